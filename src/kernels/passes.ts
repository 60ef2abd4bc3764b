/**
 * The optimizers' per-element passes (src/optim calls these): lengths checked, then the registry's
 * active backend of each — the WebAssembly kernel where it passed its exact self-check, else the CPU
 * reference's loop, with the same bits either way.
 */
import './index.js';
import { type AdamConstants, type AllocateArray, type VectorPassSignatures, kernel } from './registry.js';

/** The passes take equal lengths, as their loops assume. */
export function checkLengths(owner: string, n: number, ...others: Float32Array[]): void {
  for (const o of others)
    if (o.length !== n) throw new RangeError(`${owner}: lengths differ (${n} and ${o.length})`);
}

/** dst[i] = f32(dst[i] + src[i]); dst may be src. */
export function addInto(dst: Float32Array, src: Float32Array): void {
  checkLengths('addInto', dst.length, src);
  kernel('addInto')(dst, src);
}

/** out[i] = f32(f · x[i]); out may be x. */
export function scaleInto(out: Float32Array, x: Float32Array, f: number): void {
  checkLengths('scaleInto', out.length, x);
  kernel('scaleInto')(out, x, f);
}

/** out[i] = f32(g[i] + wd · p[i]), in float64 and unfused; out may be g. */
export function addScaledInto(out: Float32Array, g: Float32Array, p: Float32Array, wd: number): void {
  checkLengths('addScaledInto', out.length, g, p);
  kernel('addScaledInto')(out, g, p, wd);
}

/** Σ v[i]² in float64, in the reference's order (which the kernel's equals). */
export function sumOfSquares(v: Float32Array): number {
  return kernel('sumOfSquares')(v);
}

/** True when v holds no ±Infinity and no NaN. */
export function allFinite(v: Float32Array): boolean {
  return kernel('allFinite')(v);
}

/** out[i] = f32(b·a[i] + c·x[i]) in float64, unfused; out may be a or x. */
export function emaInto(out: Float32Array, a: Float32Array, x: Float32Array, b: number, c: number): void {
  checkLengths('emaInto', out.length, a, x);
  kernel('emaInto')(out, a, x, b, c);
}

/** out[i] = f32(sign(m[i])·min(|m[i]|/(scale·h[i] + eps), 1)); returns how many ratios were below 1. */
export const sophiaGClipInto: VectorPassSignatures['sophiaGClip'] = (out, m, h, scale, eps) => {
  checkLengths('sophiaGClipInto', out.length, m, h);
  return kernel('sophiaGClip')(out, m, h, scale, eps);
};

/** out[i] = f32(clamp(m[i]/bc1/max(γ·h[i], eps), ±clip)); returns how many |u| were below clip. */
export const sophiaHClipInto: VectorPassSignatures['sophiaHClip'] = (out, m, h, bc1, gamma, eps, clip) => {
  checkLengths('sophiaHClipInto', out.length, m, h);
  return kernel('sophiaHClip')(out, m, h, bc1, gamma, eps, clip);
};

/** Adam's moments and update for one step, in arrays from `allocate`; all inputs of one length. */
export function adamMoments(
  g: Float32Array,
  mu0: Float32Array,
  nu0: Float32Array,
  c: AdamConstants,
  allocate: AllocateArray,
): { mu: Float32Array; nu: Float32Array; out: Float32Array } {
  checkLengths('adamMoments', g.length, mu0, nu0);
  return kernel('adamMoments')(g, mu0, nu0, c, allocate);
}
