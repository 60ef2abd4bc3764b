/**
 * Test problem for PSGD-Kron (a helper, not a test file): f(θ) = ½ dᵀHd with d = θ − θ*, where θ holds a
 * 4×6 matrix W and a bias b of 6, and H = (A ⊗ B) ⊕ diag(h_b): A, B SPD with condition 100 each (so the
 * matrix block has condition 10⁴, Kronecker-structured as PSGD-Kron's Q) and h_b log-spaced over 10².
 * Everything in float64; H·x is exact.
 */
import type { GradientTransformation, UpdateExtra } from '../../src/optim/index.js';
import type { TensorLayout } from '../../src/optim/tensor-layout.js';
import { rng } from '../../src/random/counter-rng.js';

/** Q·diag(λ)·Qᵀ with Q a random orthogonal matrix and λ log-spaced in [1/cond, 1]. */
export function spd(s: number, seed: number, cond: number): Float64Array {
  const r = rng(seed, 'spd');
  const Q = Float64Array.from({ length: s * s }, () => r.normal());
  for (let j = 0; j < s; j++) {
    for (let k = 0; k < j; k++) {
      let d = 0;
      for (let i = 0; i < s; i++) d += Q[i * s + j] * Q[i * s + k];
      for (let i = 0; i < s; i++) Q[i * s + j] -= d * Q[i * s + k];
    }
    let nn = 0;
    for (let i = 0; i < s; i++) nn += Q[i * s + j] ** 2;
    for (let i = 0; i < s; i++) Q[i * s + j] /= Math.sqrt(nn);
  }
  const A = new Float64Array(s * s);
  for (let i = 0; i < s; i++)
    for (let j = 0; j < s; j++) {
      let a = 0;
      for (let k = 0; k < s; k++) a += Q[i * s + k] * cond ** (-k / (s - 1)) * Q[j * s + k];
      A[i * s + j] = a;
    }
  return A;
}

export const M = 4;
export const N = 6;
export const SIZE = M * N + N;
export const A = spd(M, 1, 100);
export const B = spd(N, 2, 100);
export const HB = Float64Array.from({ length: N }, (_, i) => 10 ** ((-2 * i) / (N - 1)));
export const STAR = rng(3, 'star').fillNormal(new Float64Array(SIZE));

export const layout: TensorLayout = [
  { name: 'w', offset: 0, size: M * N, shape: [M, N], role: 'matrix' },
  { name: 'b', offset: M * N, size: N, shape: [N], role: 'vector' },
];

/** H·x: A·W·B on the matrix block (row-major W, so (A ⊗ B)·vec(W)), h_b ⊙ b on the bias. */
export function hessianTimes(x: ArrayLike<number>): Float32Array {
  const y = new Float32Array(SIZE);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < M; k++) for (let l = 0; l < N; l++) s += A[i * M + k] * x[k * N + l] * B[l * N + j];
      y[i * N + j] = s;
    }
  for (let i = 0; i < N; i++) y[M * N + i] = HB[i] * x[M * N + i];
  return y;
}

export function loss(x: Float32Array): number {
  const d = Float64Array.from(x, (v, i) => v - STAR[i]);
  const hd = hessianTimes(d);
  let s = 0;
  for (let i = 0; i < SIZE; i++) s += d[i] * hd[i];
  return s / 2;
}

export const gradient = (x: Float32Array): Float32Array =>
  hessianTimes(Float64Array.from(x, (v, i) => v - STAR[i]));

/** The exact pair of step t: v from its own stream, H·v. */
export function pairAt(t: number): { v: Float32Array; hv: Float32Array } {
  const v = rng(9, 'test-pair', t).fillNormal(new Float32Array(SIZE));
  return { v, hv: hessianTimes(v) };
}

/** Runs `steps` updates from θ = 0 (with a pair every `pairEvery` steps, 0 for none); returns θ and state. */
export function drive<S>(
  opt: GradientTransformation<S>,
  steps: number,
  pairEvery: number,
  extraOf: (t: number) => UpdateExtra = () => ({}),
): { x: Float32Array; state: S } {
  let x = new Float32Array(SIZE);
  let state = opt.init(x, layout);
  for (let t = 0; t < steps; t++) {
    const extra = {
      ...extraOf(t),
      ...(pairEvery > 0 && t % pairEvery === 0 ? { hessianPair: pairAt(t) } : {}),
    };
    const [u, next] = opt.update(gradient(x), state, x, extra);
    state = next;
    x = x.map((xi, i) => xi + u[i]);
  }
  return { x, state };
}
