/**
 * The float32 GELU kernels' self-check and the errors it bounds, measured against the float64
 * formulas (not the CPU reference's float32 path, whose clamped exponential is itself off in the far
 * negative tail): GELU and g·GELU′ relative to max(|value|, 1), e relative to itself where it is a
 * normal float32. The bounds are the worst measured (gelu.ts's header) with a margin of 1.5–1.8×.
 */
import type { GeluExpKernel, GeluVjpKernel } from '../registry.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;
const F32_MIN_NORMAL = 2 ** -126;
const F32_MAX = (2 - 2 ** -23) * 2 ** 127;

/** Bound on |GELU − float64 GELU| / max(|GELU|, 1). */
export const GELU_F32_TOL = 2.5e-7;
/** Bound on |g·GELU′ − float64 g·GELU′| / max(|g·GELU′|, 1) for |g| ≤ 1. */
export const GELU_VJP_F32_TOL = 3.5e-7;
/** Bound on e's relative error, per unit of (3 + |y|), y = −2u its exponent (e is normal). */
export const GELU_E_F32_TOL = 3e-7;

/** exp(−2u) of the tanh form, in float64. */
export function geluExp64(x: number): number {
  return Math.exp(-2 * GELU_C * (x + GELU_A * x * x * x));
}

/** GELU in float64, as x/(1 + e): no cancellation in the negative tail. */
export function gelu64(x: number): number {
  if (x === Infinity) return x;
  if (x === -Infinity) return -0;
  return x / (1 + geluExp64(x));
}

/** GELU′ in float64: σ(1 + 2x·(eσ)·u′) with eσ = e/(1 + e) (1 where e overflows). */
export function geluPrime64(x: number): number {
  if (x === Infinity) return 1;
  if (x === -Infinity) return 0;
  const e = geluExp64(x);
  const s = 1 / (1 + e);
  const es = e === Infinity ? 1 : e / (1 + e);
  return s === 0 ? 0 : s * (1 + 2 * x * es * GELU_C * (1 + 3 * GELU_A * x * x));
}

/**
 * The worst errors of one geluExp run against the float64 formulas (the metrics of the bounds), and
 * the elements where they are (−1 where none is above 0).
 */
export function geluExpErrors(
  x: Float32Array,
  out: Float32Array,
  e: Float64Array,
): { out: number; e: number; outAt: number; eAt: number } {
  let [worst, worstE, outAt, eAt] = [0, 0, -1, -1];
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (Number.isNaN(v)) {
      if (!Number.isNaN(out[i]) || !Number.isNaN(e[i]))
        return { out: Infinity, e: Infinity, outAt: i, eAt: i };
      continue;
    }
    const want = gelu64(v);
    const err = Object.is(want, out[i]) ? 0 : Math.abs(out[i] - want) / Math.max(1, Math.abs(want));
    if (!(err <= worst)) [worst, outAt] = [err, i];
    const exact = geluExp64(v);
    const wantE = Math.fround(exact);
    const y = Math.abs(2 * GELU_C * (v + GELU_A * v * v * v));
    let errE = 0;
    if (e[i] === Infinity || wantE === Infinity) {
      // Overflow: both, or e's error crossing float32's largest value.
      if (!(e[i] === Infinity && exact * (1 + GELU_E_F32_TOL * (3 + y)) >= F32_MAX)) errE = Infinity;
    } else if (wantE >= F32_MIN_NORMAL) {
      errE = Math.abs(e[i] - exact) / exact / (3 + y);
    } else if (!(e[i] >= 0 && e[i] <= F32_MIN_NORMAL)) errE = Infinity;
    if (!(errE <= worstE)) [worstE, eAt] = [errE, i];
  }
  return { out: worst, e: worstE, outAt, eAt };
}

/** The worst error of one geluVjp run (|g| ≤ 1) against the float64 formula, and where it is. */
export function geluVjpError(
  x: Float32Array,
  g: Float32Array,
  out: Float32Array,
): { error: number; at: number } {
  let [worst, at] = [0, -1];
  for (let i = 0; i < x.length; i++) {
    const want = g[i] * geluPrime64(x[i]);
    if (Number.isNaN(want) !== Number.isNaN(out[i])) return { error: Infinity, at: i };
    const err = Number.isNaN(want) ? 0 : Math.abs(out[i] - want) / Math.max(1, Math.abs(want));
    if (!(err <= worst)) [worst, at] = [err, i];
  }
  return { error: worst, at };
}

/**
 * True when `geluExp` and `geluVjp` keep their bounds on odd and even lengths, in both tails (out to
 * ±120, past where e overflows or vanishes), on ±0, ±Infinity and NaN, and when the VJP from the saved
 * exponentials is bit for bit the VJP without them.
 */
export function geluF32SelfCheck(geluExp: GeluExpKernel, geluVjp: GeluVjpKernel): boolean {
  let seed = 16180;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const n of [1, 7, 301]) {
    const x = new Float32Array(n).map(() => next() * (next() > 0 ? 4 : 120));
    if (n > 6) x.set([NaN, Infinity, -Infinity, -0, 0, 2 ** -140], n - 6);
    const g = new Float32Array(n).map(() => next());
    const out = new Float32Array(n).fill(NaN);
    const e = new Float64Array(n).fill(NaN);
    geluExp(x, out, e);
    const errors = geluExpErrors(x, out, e);
    if (!(errors.out <= GELU_F32_TOL && errors.e <= GELU_E_F32_TOL)) return false;
    const [saved, recomputed] = [new Float32Array(n).fill(NaN), new Float32Array(n).fill(NaN)];
    geluVjp(x, g, saved, e);
    geluVjp(x, g, recomputed);
    for (let i = 0; i < n; i++) if (!Object.is(saved[i], recomputed[i])) return false;
    if (!(geluVjpError(x, g, saved).error <= GELU_VJP_F32_TOL)) return false;
  }
  return true;
}
