/**
 * Top-k Hessian eigenvalues by power iteration with deflation, as PyHessian's `eigenvalues()`:
 * for each k, start from a normal vector rng(seed, 'eigen', k), and each iteration orthogonalise against
 * the eigenvectors already found (Gram–Schmidt), take the Rayleigh quotient vᵀHv, set v ← Hv/‖Hv‖; stop
 * when the quotient's relative change |λ_i − λ_{i−1}| / (|λ_{i−1}| + 1e-6) < tol (1e-3), or after
 * maxIter (100) iterations.
 *
 * Ordering: power iteration finds the eigenvalue of **largest magnitude** in the deflated space, so the
 * result is the top-k by |λ| (a large negative eigenvalue comes before a smaller positive one), in the
 * order found, which is by decreasing |λ| once each has converged. `lambdaMax` gives the largest
 * *algebraic* eigenvalue (what the stability checks need) by one more, shifted, power iteration when
 * the largest-magnitude one is negative.
 *
 * Accuracy: the stopping rule bounds the change, not the error; with a ratio r = |λ_{k+1}/λ_k| the
 * Rayleigh quotient's error is about change / (r⁻² − 1), so clustered eigenvalues need a smaller tol.
 */
import { rng } from '../random/counter-rng.js';
import type { HvpFn } from './operator.js';
import { applyChecked, checkCount, dot, norm, orthogonalise } from './linalg.js';
import { type Stepwise, finish, nested } from './stepwise.js';

export interface EigenOptions {
  /** Number of eigenpairs (default 1). */
  k?: number;
  /** Relative-change tolerance of the Rayleigh quotient (default 1e-3). */
  tol?: number;
  /** Iterations per eigenvalue (default 100). */
  maxIter?: number;
  seed?: number;
}

export interface EigenResult {
  /** Eigenvalue estimates, top-k by magnitude, in the order found. */
  eigenvalues: number[];
  /** Unit eigenvector estimates (float64), mutually orthogonal. */
  eigenvectors: Float64Array[];
  /** Iterations (= HVPs) used for each eigenvalue. */
  iterations: number[];
  /** Whether each eigenvalue met the tolerance before maxIter. */
  converged: boolean[];
}

function checkIterOptions(who: string, tol: number, maxIter: number): void {
  if (!(tol >= 0)) throw new RangeError(`${who}: tol must be >= 0, got ${tol}`);
  if (!Number.isInteger(maxIter) || maxIter < 1)
    throw new RangeError(`${who}: maxIter must be a positive integer, got ${maxIter}`);
}

export function topEigenvalues(hvp: HvpFn, n: number, options: EigenOptions = {}): EigenResult {
  return finish(topEigenvaluesSteps(hvp, n, options));
}

/**
 * topEigenvalues one HVP at a time (see stepwise.ts). Stopped early, the result holds the eigenvalues
 * already found and, when it has one, the current Rayleigh quotient of the one in progress (not
 * converged).
 */
export function* topEigenvaluesSteps(
  hvp: HvpFn,
  n: number,
  options: EigenOptions = {},
): Stepwise<EigenResult> {
  checkCount('topEigenvalues', n);
  const k = options.k ?? 1;
  const tol = options.tol ?? 1e-3;
  const maxIter = options.maxIter ?? 100;
  const seed = options.seed ?? 0;
  checkIterOptions('topEigenvalues', tol, maxIter);
  if (!Number.isInteger(k) || k < 1 || k > n)
    throw new RangeError(`topEigenvalues: k must be an integer in [1, ${n}], got ${k}`);
  const eigenvalues: number[] = [];
  const eigenvectors: Float64Array[] = [];
  const iterations: number[] = [];
  const converged: boolean[] = [];
  let spent = 0;
  for (let idx = 0; idx < k; idx++) {
    let v: Float64Array = rng(seed, 'eigen', idx).fillNormal(new Float64Array(n));
    let lambda: number | null = null;
    let it = 0;
    let done = false;
    const partial = (): EigenResult =>
      lambda === null
        ? {
            eigenvalues: [...eigenvalues],
            eigenvectors: [...eigenvectors],
            iterations: [...iterations],
            converged: [...converged],
          }
        : {
            eigenvalues: [...eigenvalues, lambda],
            eigenvectors: [...eigenvectors, Float64Array.from(v)],
            iterations: [...iterations, it],
            converged: [...converged, false],
          };
    while (it < maxIter) {
      orthogonalise(v, eigenvectors);
      const nv = norm(v);
      if (nv === 0) break; // v lies in the span already found (only possible for tiny n)
      for (let i = 0; i < n; i++) v[i] /= nv;
      const hv = applyChecked(hvp, v, 'topEigenvalues');
      const rq = dot(hv, v);
      it++;
      spent++;
      const nh = norm(hv);
      if (nh === 0) {
        // Hv = 0: v is an eigenvector of eigenvalue 0.
        lambda = 0;
        done = true;
        break;
      }
      v = hv;
      for (let i = 0; i < n; i++) v[i] /= nh;
      if (lambda !== null && Math.abs(lambda - rq) / (Math.abs(lambda) + 1e-6) < tol) {
        lambda = rq;
        done = true;
        break;
      }
      lambda = rq;
      if (it < maxIter) yield { done: spent, total: k * maxIter, partial };
    }
    // Keep the stored basis exactly orthonormal for the next deflation.
    orthogonalise(v, eigenvectors);
    const nv = norm(v);
    if (nv > 0) for (let i = 0; i < n; i++) v[i] /= nv;
    eigenvalues.push(lambda ?? 0);
    eigenvectors.push(v);
    iterations.push(it);
    converged.push(done);
  }
  return { eigenvalues, eigenvectors, iterations, converged };
}

/**
 * The eigenvalues of a topEigenvalues result sorted by value, largest first (they are found by
 * magnitude), each with its own converged flag and HVP count.
 */
export function eigenvaluesLargestFirst(
  eig: EigenResult,
): { value: number; converged: boolean; iterations: number }[] {
  return eig.eigenvalues
    .map((value, i) => ({ value, converged: eig.converged[i], iterations: eig.iterations[i] }))
    .sort((a, b) => b.value - a.value);
}

export interface LambdaMaxResult {
  /** The largest algebraic eigenvalue estimate. */
  lambdaMax: number;
  /** The largest-magnitude eigenvalue (the first power iteration's answer). */
  topMagnitude: number;
  /** HVPs used. */
  iterations: number;
}

/**
 * The largest algebraic eigenvalue λmax. Power iteration gives the largest-magnitude λ₁; if λ₁ ≥ 0 that
 * is λmax. Otherwise H − λ₁I is positive semidefinite with top eigenvalue λmax − λ₁, found by a second
 * power iteration (same tol/maxIter).
 */
export function lambdaMax(hvp: HvpFn, n: number, options: Omit<EigenOptions, 'k'> = {}): LambdaMaxResult {
  return finish(lambdaMaxSteps(hvp, n, options));
}

/** lambdaMax one HVP at a time (see stepwise.ts); stopped early, the estimate so far. */
export function* lambdaMaxSteps(
  hvp: HvpFn,
  n: number,
  options: Omit<EigenOptions, 'k'> = {},
): Stepwise<LambdaMaxResult> {
  const maxIter = options.maxIter ?? 100;
  const first = yield* nested(
    topEigenvaluesSteps(hvp, n, { ...options, k: 1 }),
    (e) => ({
      lambdaMax: e.eigenvalues[0] ?? 0,
      topMagnitude: e.eigenvalues[0] ?? 0,
      iterations: e.iterations[0] ?? 0,
    }),
    0,
    2 * maxIter,
  );
  const l1 = first.eigenvalues[0];
  if (l1 >= 0) return { lambdaMax: l1, topMagnitude: l1, iterations: first.iterations[0] };
  const shifted: HvpFn = (v) => {
    const hv = applyChecked(hvp, v instanceof Float64Array ? v : Float64Array.from(v), 'lambdaMax');
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = hv[i] - l1 * v[i];
    return out;
  };
  const result = (second: EigenResult): LambdaMaxResult => ({
    lambdaMax: (second.eigenvalues[0] ?? 0) + l1,
    topMagnitude: l1,
    iterations: first.iterations[0] + (second.iterations[0] ?? 0),
  });
  const second = yield* nested(
    topEigenvaluesSteps(shifted, n, { ...options, k: 1, seed: (options.seed ?? 0) + 1 }),
    result,
    first.iterations[0],
    2 * maxIter,
  );
  return result(second);
}
