/**
 * The CPU reference of 'tanhVjp': out = g·(1 − y·y) with every operation rounded to the arrays' type,
 * as tanh's VJP in primitive ops computes it (mul(y, y), sub(1, ·), mul(g, ·), each kernel rounding
 * its float64 result once: for one +, − or × that is the correctly rounded float32 operation).
 */
import type { TanhVjpKernel } from '../registry.js';

export const cpuTanhVjp: TanhVjpKernel = (y, g, out) => {
  const n = out.length;
  if (out instanceof Float32Array) {
    const f = Math.fround;
    for (let i = 0; i < n; i++) out[i] = g[i] * f(1 - f(y[i] * y[i]));
  } else {
    for (let i = 0; i < n; i++) out[i] = g[i] * (1 - y[i] * y[i]);
  }
};
