/**
 * The CPU references of the optimizers' per-element passes over flat float32 vectors (registered as
 * backend 'cpu' of 'addInto', 'scaleInto', 'addScaledInto', 'sumOfSquares', 'emaInto', 'sophiaGClip'
 * 'sophiaHClip' and 'adamMoments'): plain loops, each element computed in float64 and rounded to float32 on store.
 * The WebAssembly kernels (wasm/vector-ops.ts, wasm/sophia.ts) equal them bit for bit.
 */
import type { AdamConstants, AdamMomentsKernel, AdamMomentsLoop, VectorPassSignatures } from '../registry.js';

export function addIntoLoop(dst: Float32Array, src: Float32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] = dst[i] + src[i];
}

export function scaleIntoLoop(out: Float32Array, x: Float32Array, f: number): void {
  for (let i = 0; i < out.length; i++) out[i] = f * x[i];
}

/** True when v holds no ±Infinity and no NaN (v − v is 0 exactly for every finite v). */
export function allFiniteLoop(v: Float32Array): boolean {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] - v[i];
  return s === 0;
}

export function addScaledIntoLoop(out: Float32Array, g: Float32Array, p: Float32Array, wd: number): void {
  for (let i = 0; i < out.length; i++) out[i] = g[i] + wd * p[i];
}

/**
 * Σ v[i]² in float64 in the kernel's order: element i goes to partial sum s[i mod 8], and the result
 * is ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)). The order depends only on the length; each
 * square is exact, so the result can differ from a sequential sum only in the last bits.
 */
export function sumOfSquaresLoop(v: Float32Array): number {
  let [s0, s1, s2, s3, s4, s5, s6, s7] = [0, 0, 0, 0, 0, 0, 0, 0];
  const n = v.length;
  const whole = n - (n % 8);
  for (let i = 0; i < whole; i += 8) {
    s0 += v[i] * v[i];
    s1 += v[i + 1] * v[i + 1];
    s2 += v[i + 2] * v[i + 2];
    s3 += v[i + 3] * v[i + 3];
    s4 += v[i + 4] * v[i + 4];
    s5 += v[i + 5] * v[i + 5];
    s6 += v[i + 6] * v[i + 6];
    s7 += v[i + 7] * v[i + 7];
  }
  const s = [s0, s1, s2, s3, s4, s5, s6, s7];
  for (let i = whole; i < n; i++) s[i - whole] += v[i] * v[i];
  return combine(s);
}

/** The fixed combination of the eight partial sums (lane-wise as the kernel's four f64x2 pairs). */
export const combine = (s: ArrayLike<number>): number =>
  s[0] + s[4] + (s[2] + s[6]) + (s[1] + s[5] + (s[3] + s[7]));

/** out[i] = b·a[i] + c·x[i] (the caller passes c = 1 − b, computed in float64 as the EMA writes it). */
export function emaIntoLoop(out: Float32Array, a: Float32Array, x: Float32Array, b: number, c: number): void {
  for (let i = 0; i < out.length; i++) out[i] = b * a[i] + c * x[i];
}

/** Sophia-G's clipped step (src/optim/sophia-g.ts); returns how many ratios were below 1. */
export const sophiaGClipLoop: VectorPassSignatures['sophiaGClip'] = (out, m, h, scale, eps) => {
  let unclipped = 0;
  for (let i = 0; i < out.length; i++) {
    const mi = m[i];
    const ratio = Math.abs(mi) / (scale * h[i] + eps);
    if (ratio < 1) unclipped++;
    out[i] = Math.sign(mi) * Math.min(ratio, 1);
  }
  return unclipped;
};

/** Sophia-H's clipped step (src/optim/sophia-h.ts); returns how many |u| were below `clip`. */
export const sophiaHClipLoop: VectorPassSignatures['sophiaHClip'] = (out, m, h, bc1, gamma, eps, clip) => {
  let unclipped = 0;
  for (let i = 0; i < out.length; i++) {
    const u = m[i] / bc1 / Math.max(gamma * h[i], eps);
    if (Math.abs(u) < clip) unclipped++;
    out[i] = Math.min(Math.max(u, -clip), clip);
  }
  return unclipped;
};

/** The constants of step `count` (1 for the first): bias corrections 1 − β^count, as the loop uses them. */
export function adamConstants(
  b1: number,
  b2: number,
  count: number,
  eps: number,
  epsRoot: number,
): AdamConstants {
  return { b1, b2, bc1: 1 - b1 ** count, bc2: 1 - b2 ** count, eps, epsRoot };
}

/**
 * The moments and update of one Adam step in JavaScript, per element in float64 with mu and nu rounded
 * to float32 on store: the reference (and fallback) of the WebAssembly kernel (wasm/adam.ts), which matches it bit for bit.
 */
export const adamMomentsLoop: AdamMomentsLoop = (
  g,
  mu0,
  nu0,
  mu,
  nu,
  out,
  { b1, b2, bc1, bc2, eps, epsRoot },
) => {
  for (let i = 0; i < g.length; i++) {
    const gi = g[i];
    mu[i] = b1 * mu0[i] + (1 - b1) * gi;
    nu[i] = b2 * nu0[i] + (1 - b2) * gi * gi;
    // The stored (float32) moments are what the next step sees, so the update uses them too.
    out[i] = mu[i] / bc1 / (Math.sqrt(nu[i] / bc2 + epsRoot) + eps);
  }
};

/** The 'adamMoments' CPU reference: the loop into arrays from `allocate` (fresh by default). */
export const cpuAdamMoments: AdamMomentsKernel = (g, mu0, nu0, c, allocate = (n) => new Float32Array(n)) => {
  const n = g.length;
  const [mu, nu, out] = [allocate(n), allocate(n), allocate(n)];
  adamMomentsLoop(g, mu0, nu0, mu, nu, out, c);
  return { mu, nu, out };
};
