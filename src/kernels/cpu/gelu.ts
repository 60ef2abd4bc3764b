/**
 * CPU reference GELU kernels (tanh form, as GPT-2 and PyTorch's approximate='tanh'):
 *   GELU(x)  = ½x(1 + tanh u) = x·σ(2u),   u = c(x + a x³)
 *   GELU′(x) = σ(2u) + 2x·σ(2u)(1 − σ(2u))·u′,   u′ = c(1 + 3a x²)
 * The σ form needs one exponential, e = exp(−2u), with σ = 1/(1 + e) and 1 − σ = e·σ (no cancellation).
 *
 * Float64 arrays use Math.tanh, the exact reference. Float32 arrays use `expForFloat32` (exp.ts):
 * V8's Math.tanh was about three times slower, and its relative error (≈4e-11) is far below float32's
 * rounding (6e-8), so float32 results match the Math.tanh formulas to float32 precision.
 */
import type { FloatArray } from '../arrays.js';
import type { GeluExpKernel, GeluVjpKernel, UnaryKernel } from '../registry.js';
import { expForFloat32 } from './exp.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

function gelu64(x: FloatArray, out: FloatArray): void {
  for (let i = 0; i < out.length; i++) {
    const v = x[i];
    out[i] = 0.5 * v * (1 + Math.tanh(GELU_C * (v + GELU_A * v * v * v)));
  }
}

function gelu32(x: FloatArray, out: FloatArray): void {
  for (let i = 0; i < out.length; i++) {
    const v = x[i];
    out[i] = v / (1 + expForFloat32(-2 * GELU_C * (v + GELU_A * v * v * v)));
  }
}

/** GELU′ from tanh: ½(1 + t) + ½x(1 − t²)·u′. */
function geluPrime64(v: number): number {
  const t = Math.tanh(GELU_C * (v + GELU_A * v * v * v));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * v * v);
}

/** GELU′ from e = exp(−2u): σ·(1 + 2x·e·σ·u′). */
function geluPrime32(v: number): number {
  const e = expForFloat32(-2 * GELU_C * (v + GELU_A * v * v * v));
  const s = 1 / (1 + e);
  return s * (1 + 2 * v * e * s * GELU_C * (1 + 3 * GELU_A * v * v));
}

export const cpuGelu: UnaryKernel = (x, out) => {
  if (out instanceof Float64Array) gelu64(x, out);
  else gelu32(x, out);
};

export const cpuGeluGrad: UnaryKernel = (x, out) => {
  if (out instanceof Float64Array) for (let i = 0; i < out.length; i++) out[i] = geluPrime64(x[i]);
  else for (let i = 0; i < out.length; i++) out[i] = geluPrime32(x[i]);
};

/**
 * GELU″(x) = s·k − x·t·s·k² + 3a·c·x²·s with t = tanh u, s = 1 − t², k = u′. For float32, from
 * e = exp(−2u) and σ = 1/(1 + e): t = (1 − e)·σ and s = 4e·σ² (no cancellation in 1 − t²).
 */
function geluSecond64(v: number): number {
  const u = GELU_C * (v + GELU_A * v * v * v);
  // From e = exp(−2|u|) ≤ 1: sech²u = 4e/(1 + e)² keeps its relative precision where 1 − tanh²u
  // would cancel (and the x·k² factor would magnify that cancellation).
  const e = Math.exp(-2 * Math.abs(u));
  const t = (u < 0 ? e - 1 : 1 - e) / (1 + e);
  const s = (4 * e) / ((1 + e) * (1 + e));
  const k = GELU_C * (1 + 3 * GELU_A * v * v);
  return s * k - v * t * s * k * k + 3 * GELU_A * GELU_C * v * v * s;
}

function geluSecond32(v: number): number {
  const e = expForFloat32(-2 * GELU_C * (v + GELU_A * v * v * v));
  const sig = 1 / (1 + e);
  const t = (1 - e) * sig;
  const s = 4 * e * sig * sig;
  const k = GELU_C * (1 + 3 * GELU_A * v * v);
  return s * k - v * t * s * k * k + 3 * GELU_A * GELU_C * v * v * s;
}

/** GELU″(x), elementwise: the curvature term of GELU's double backward. */
export const cpuGeluSecond: UnaryKernel = (x, out) => {
  if (out instanceof Float64Array) for (let i = 0; i < out.length; i++) out[i] = geluSecond64(x[i]);
  else for (let i = 0; i < out.length; i++) out[i] = geluSecond32(x[i]);
};

/** GELU′ from x and its saved e = exp(−2u): geluPrime32 without the exponential. */
function geluPrimeFromExp(v: number, e: number): number {
  const s = 1 / (1 + e);
  return s * (1 + 2 * v * e * s * GELU_C * (1 + 3 * GELU_A * v * v));
}

/**
 * g ⊙ GELU′(x): the whole GELU backward in one pass, without a GELU′ tensor in between. With `e` (the
 * exponentials `cpuGeluExp` saved for this x), float32 skips recomputing them: the same float64
 * operations on the same values, so the result is bit for bit the one without `e`.
 */
export const cpuGeluVjp: GeluVjpKernel = (x, g, out, e) => {
  if (out instanceof Float64Array) for (let i = 0; i < out.length; i++) out[i] = g[i] * geluPrime64(x[i]);
  else if (e) for (let i = 0; i < out.length; i++) out[i] = g[i] * geluPrimeFromExp(x[i], e[i]);
  else for (let i = 0; i < out.length; i++) out[i] = g[i] * geluPrime32(x[i]);
};

/**
 * GELU forward that also keeps, per element, the float64 exponential e = exp(−2u) the backward needs
 * (`cpuGeluVjp` with `e`): float32 computes each e once instead of twice, and `out` is bit for bit
 * `cpuGelu`'s. Float64 arrays use the Math.tanh forward, with e = Math.exp(−2u) alongside.
 */
export const cpuGeluExp: GeluExpKernel = (x, out, e) => {
  if (out instanceof Float64Array) {
    gelu64(x, out);
    for (let i = 0; i < out.length; i++) {
      const v = x[i];
      e[i] = Math.exp(-2 * GELU_C * (v + GELU_A * v * v * v));
    }
    return;
  }
  for (let i = 0; i < out.length; i++) {
    const v = x[i];
    const ei = expForFloat32(-2 * GELU_C * (v + GELU_A * v * v * v));
    e[i] = ei;
    out[i] = v / (1 + ei);
  }
};
