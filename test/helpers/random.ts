/**
 * Deterministic random data for tests, drawn from the counter-based generator: every array is a pure
 * function of (seed, ...path), so a failing property test is reproduced by its seed alone.
 */
import { type PathPart, rng } from '../../src/random/counter-rng.js';
import { type Tensor, tensor } from '../../src/tensor/index.js';

export type { PathPart };

/** Number of elements of a shape. */
export function count(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Standard normals. */
export function normals(n: number, seed: number, ...path: PathPart[]): Float64Array {
  return rng(seed, 'normals', ...path).fillNormal(new Float64Array(n));
}

/** Uniform in [lo, hi). */
export function uniforms(n: number, lo: number, hi: number, seed: number, ...path: PathPart[]): Float64Array {
  return rng(seed, 'uniforms', ...path).fillUniform(new Float64Array(n), lo, hi);
}

/** Uniform integers in [0, hi). */
export function ints(n: number, hi: number, seed: number, ...path: PathPart[]): Int32Array {
  const r = rng(seed, 'ints', ...path);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = r.int(hi);
  return out;
}

/** Values bounded away from zero: a random sign times a magnitude in [lo, hi). */
export function awayFromZero(
  n: number,
  lo: number,
  hi: number,
  seed: number,
  ...path: PathPart[]
): Float64Array {
  const r = rng(seed, 'awayFromZero', ...path);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = r.rademacher() * (lo + (hi - lo) * r.uniform());
  return out;
}

/**
 * n values, pairwise at least `gap` apart (a shuffled lattice with jitter below gap/4), centred on 0:
 * no ties anywhere, so max/maximum are differentiable at the drawn point and a small step stays there.
 */
export function distinct(n: number, gap: number, seed: number, ...path: PathPart[]): Float64Array {
  const r = rng(seed, 'distinct', ...path);
  const perm = r.permutation(n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (perm[i] - (n - 1) / 2) * gap + r.uniform() * gap * 0.25;
  return out;
}

/** A float64 tensor of standard normals times `std`. */
export function randn(shape: readonly number[], seed: number, ...path: PathPart[]): Tensor {
  return tensor(normals(count(shape), seed, ...path), shape, 'float64');
}

/** A float64 tensor uniform in [lo, hi). */
export function randu(
  shape: readonly number[],
  lo: number,
  hi: number,
  seed: number,
  ...path: PathPart[]
): Tensor {
  return tensor(uniforms(count(shape), lo, hi, seed, ...path), shape, 'float64');
}
