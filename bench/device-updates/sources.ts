/**
 * gpu.js kernel sources of the device updates' comparison paths (updates.ts): the earlier gpu.js
 * Sophia-G step over an interleaved (θ, m) state, and the gpu.js EMA. Written to the rules of
 * src/gpu's gpu.js sources (indices inline, sizes as arguments).
 */
import type { KernelSource } from '../../src/kernels/gpujs/sources.js';

const TX = 'this.thread.x';
const arrays = (...names: string[]): Record<string, 'Array'> =>
  Object.fromEntries(names.map((n) => [n, 'Array' as const]));
const floats = (...names: string[]): Record<string, 'Float'> =>
  Object.fromEntries(names.map((n) => [n, 'Float' as const]));

/**
 * Fused Sophia-G step over a flat vector whose state is interleaved [θ0, m0, θ1, m1, …]:
 *   m ← β1·m + (1−β1)·g;  θ ← θ·(1 − lr·wd) − lr·sign(m)·min(|m| / (ρ·bs·h + 1e-15), 1)
 * Output [d] of Array(2) = the new interleaved state (θ, m). Args (s, g, h, lr, wd, b1, rhoBs).
 */
export function sophiaGSource(): KernelSource {
  const source = `function (s, g, h, lr, wd, b1, rhoBs) {
  const th = s[${TX} * 2];
  const m = b1 * s[${TX} * 2 + 1] + (1 - b1) * g[${TX}];
  const ratio = Math.abs(m) / (rhoBs * h[${TX}] + 1e-15);
  return [th * (1 - lr * wd) - lr * Math.sign(m) * Math.min(ratio, 1), m];
}`;
  return {
    key: 'sophiaG',
    source,
    argumentTypes: { ...arrays('s', 'g', 'h'), ...floats('lr', 'wd', 'b1', 'rhoBs') },
    returnType: 'Array(2)',
  };
}

/** Interleaves θ and m into a Sophia state: output [d] of Array(2). */
export function interleaveSource(): KernelSource {
  const source = `function (a, b) {
  return [a[${TX}], b[${TX}]];
}`;
  return { key: 'interleave2', source, argumentTypes: arrays('a', 'b'), returnType: 'Array(2)' };
}

/** Exponential moving average h ← β·h + (1−β)·x: output [len]; args (h, x, beta). */
export function emaSource(): KernelSource {
  const source = `function (h, x, beta) {
  return beta * h[${TX}] + (1 - beta) * x[${TX}];
}`;
  return { key: 'ema', source, argumentTypes: { ...arrays('h', 'x'), ...floats('beta') } };
}
