/**
 * Eigenvalue spectral density by stochastic Lanczos quadrature (PyHessian `density()`): for each run,
 * a Rademacher probe rng(seed, 'slq', run) normalised to unit length starts m Lanczos steps with full
 * reorthogonalisation against every previous Lanczos vector; the tridiagonal T's eigenvalues are the
 * quadrature nodes and the squared first components of its eigenvectors the weights (each run's weights
 * sum to 1). The density is the average over runs of Gaussian-broadened node masses with
 * σ² = 1e-5 · max(1, λmax − λmin).
 *
 * If the Krylov space becomes invariant (β ≈ 0, e.g. a matrix with few distinct eigenvalues), the run
 * stops there: its quadrature is then exact for that probe. (PyHessian instead continues with a random
 * orthogonal vector, which only adds nodes of zero weight.)
 */
import { rng } from '../random/counter-rng.js';
import type { HvpFn } from './operator.js';
import { applyChecked, checkCount, dot, norm, orthogonalise } from './linalg.js';
import { tridiagonalEigen } from './symmetric-eigen.js';
import { type Stepwise, finish, nested } from './stepwise.js';

export interface DensityOptions {
  /** Number of probe vectors (default 1, PyHessian's n_v). */
  runs?: number;
  /** Lanczos steps per run (default 100, capped at the parameter count). */
  iterations?: number;
  seed?: number;
  /** Relative broadening: σ² = sigmaSquared · max(1, λmax − λmin) (default 1e-5). */
  sigmaSquared?: number;
}

export interface LanczosRun {
  /** Quadrature nodes (Ritz values), ascending. */
  nodes: Float64Array;
  /** Quadrature weights (squared first eigenvector components), summing to 1. */
  weights: Float64Array;
  /** The Lanczos tridiagonal: diagonal and off-diagonal. */
  alpha: Float64Array;
  beta: Float64Array;
}

export interface SpectralDensity {
  runs: LanczosRun[];
  /** Smallest and largest node over all runs. */
  lambdaMin: number;
  lambdaMax: number;
  /** The broadening variance used by densityOnGrid. */
  sigmaSquared: number;
  /**
   * Density at each grid point: the mean over runs of Σ wᵢ N(x; λᵢ, σ²). With `normalize` the values
   * are rescaled so that their Riemann sum over the (uniform) grid is 1, as PyHessian does.
   */
  densityOnGrid(grid: ArrayLike<number>, options?: { normalize?: boolean }): Float64Array;
  /**
   * A uniform grid of `bins` points over [λmin − pad, λmax + pad]. Defaults: 10000 bins (PyHessian) and
   * pad = max(0.01, 6σ) — PyHessian pads by 0.01 only, which cuts off part of the edge Gaussians.
   */
  grid(bins?: number, pad?: number): Float64Array;
}

/** One Lanczos run with full reorthogonalisation starting from the unit vector `v0`. */
export function lanczos(hvp: HvpFn, v0: Float64Array, iterations: number): LanczosRun {
  return finish(lanczosSteps(hvp, v0, iterations));
}

/** The quadrature of a Lanczos tridiagonal (alpha, beta with beta.length = alpha.length − 1). */
function quadrature(alpha: readonly number[], beta: readonly number[]): LanczosRun {
  const { values, vectors } = tridiagonalEigen(alpha, beta);
  const k = alpha.length;
  const weights = new Float64Array(k);
  for (let j = 0; j < k; j++) weights[j] = vectors[j] ** 2; // row 0, column j
  return { nodes: values, weights, alpha: Float64Array.from(alpha), beta: Float64Array.from(beta) };
}

/**
 * lanczos one HVP at a time (see stepwise.ts); stopped early, the quadrature of the steps so far (a
 * valid Gauss quadrature with fewer nodes).
 */
export function* lanczosSteps(hvp: HvpFn, v0: Float64Array, iterations: number): Stepwise<LanczosRun> {
  const n = v0.length;
  const m = Math.min(iterations, n);
  const basis: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  let v = v0;
  let vPrev: Float64Array | null = null;
  let betaPrev = 0;
  let scale = 0;
  for (let i = 0; i < m; i++) {
    basis.push(v);
    const w = applyChecked(hvp, v, 'lanczos');
    const a = dot(w, v);
    alpha.push(a);
    for (let j = 0; j < n; j++) w[j] -= a * v[j] + (vPrev ? betaPrev * vPrev[j] : 0);
    orthogonalise(w, basis); // full reorthogonalisation
    const b = norm(w);
    scale = Math.max(scale, Math.abs(a), b);
    if (i + 1 === m || b <= 1e-10 * scale) break;
    yield { done: i + 1, total: m, partial: () => quadrature(alpha, beta) };
    for (let j = 0; j < n; j++) w[j] /= b;
    beta.push(b);
    vPrev = v;
    betaPrev = b;
    v = w;
  }
  return quadrature(alpha, beta);
}

export function spectralDensity(hvp: HvpFn, n: number, options: DensityOptions = {}): SpectralDensity {
  return finish(spectralDensitySteps(hvp, n, options));
}

/**
 * spectralDensity one HVP at a time (see stepwise.ts); stopped early, the density of the runs so far,
 * the one in progress included with the nodes it has.
 */
export function* spectralDensitySteps(
  hvp: HvpFn,
  n: number,
  options: DensityOptions = {},
): Stepwise<SpectralDensity> {
  checkCount('spectralDensity', n);
  const nRuns = options.runs ?? 1;
  const iterations = options.iterations ?? 100;
  const seed = options.seed ?? 0;
  const sigmaRel = options.sigmaSquared ?? 1e-5;
  if (!Number.isInteger(nRuns) || nRuns < 1)
    throw new RangeError(`spectralDensity: runs must be a positive integer, got ${nRuns}`);
  if (!Number.isInteger(iterations) || iterations < 1)
    throw new RangeError(`spectralDensity: iterations must be a positive integer, got ${iterations}`);
  if (!(sigmaRel > 0)) throw new RangeError(`spectralDensity: sigmaSquared must be > 0, got ${sigmaRel}`);
  const runs: LanczosRun[] = [];
  const m = Math.min(iterations, n);
  for (let r = 0; r < nRuns; r++) {
    const v0 = rng(seed, 'slq', r).fillRademacher(new Float64Array(n));
    const s = 1 / Math.sqrt(n);
    for (let i = 0; i < n; i++) v0[i] *= s;
    const partial = (run: LanczosRun) => densityOf([...runs, run], sigmaRel);
    runs.push(yield* nested(lanczosSteps(hvp, v0, iterations), partial, r * m, nRuns * m));
  }
  return densityOf(runs, sigmaRel);
}

/** The density of a set of Lanczos runs (see SpectralDensity). */
function densityOf(runs: LanczosRun[], sigmaRel: number): SpectralDensity {
  let lambdaMin = Infinity;
  let lambdaMax = -Infinity;
  for (const run of runs) {
    lambdaMin = Math.min(lambdaMin, run.nodes[0]);
    lambdaMax = Math.max(lambdaMax, run.nodes[run.nodes.length - 1]);
  }
  const sigma2 = sigmaRel * Math.max(1, lambdaMax - lambdaMin);
  const densityOnGrid = (grid: ArrayLike<number>, opts: { normalize?: boolean } = {}): Float64Array => {
    const out = new Float64Array(grid.length);
    const c = 1 / Math.sqrt(2 * Math.PI * sigma2);
    for (const run of runs)
      for (let g = 0; g < grid.length; g++) {
        let s = 0;
        for (let j = 0; j < run.nodes.length; j++)
          s += run.weights[j] * Math.exp(-((grid[g] - run.nodes[j]) ** 2) / (2 * sigma2));
        out[g] += (c * s) / runs.length;
      }
    if (opts.normalize && grid.length > 1) {
      let total = 0;
      for (const x of out) total += x;
      total *= grid[1] - grid[0];
      if (total > 0) for (let g = 0; g < out.length; g++) out[g] /= total;
    }
    return out;
  };
  const grid = (bins = 10000, pad = Math.max(0.01, 6 * Math.sqrt(sigma2))): Float64Array => {
    if (!Number.isInteger(bins) || bins < 2) throw new RangeError(`grid: bins must be >= 2, got ${bins}`);
    const lo = lambdaMin - pad;
    const hi = lambdaMax + pad;
    const out = new Float64Array(bins);
    for (let i = 0; i < bins; i++) out[i] = lo + ((hi - lo) * i) / (bins - 1);
    return out;
  };
  return { runs, lambdaMin, lambdaMax, sigmaSquared: sigma2, densityOnGrid, grid };
}
