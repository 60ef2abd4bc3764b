/**
 * Synthetic problems with known answers, for testing optimizers and curvature estimators against closed
 * forms: a quadratic with a prescribed spectrum, and logistic / softmax regression with a known true
 * weight and their exact Hessians.
 *
 * Everything here is float64 and row-major (`Float64Array`, element (i, j) of an r×c matrix at i·c + j).
 * Generated features and weights are rounded to float32 values (still stored as float64) so that a
 * float32 model fed the same numbers sees *exactly* the inputs the closed forms were computed from; the
 * only remaining difference is the model's own arithmetic.
 */
import { rng } from '../random/counter-rng.js';
import { ArrayDataset } from './array-dataset.js';

// ---------------------------------------------------------------------------------------------------------
// Orthogonal matrices

/**
 * A Haar-random n×n orthogonal matrix: Householder QR of a seeded Gaussian matrix, with column j of Q
 * multiplied by sign(R_jj) (without that correction Q is not uniformly distributed — Mezzadri 2007).
 */
export function randomOrthogonal(n: number, seed: number): Float64Array {
  checkDim('randomOrthogonal', 'n', n);
  const a = new Float64Array(n * n);
  rng(seed, 'orthogonal', n).fillNormal(a);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  const v = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // Reflect a[k:, k] onto a multiple of e_k: v = x − αe_k with α = −sign(x_k)‖x‖ (no cancellation).
    let norm2 = 0;
    for (let i = k; i < n; i++) norm2 += a[i * n + k] ** 2;
    const norm = Math.sqrt(norm2);
    if (norm === 0) continue; // probability zero for Gaussian input; H = I keeps Q orthogonal
    const xk = a[k * n + k];
    const alpha = xk >= 0 ? -norm : norm;
    for (let i = k; i < n; i++) v[i] = a[i * n + k];
    v[k] -= alpha;
    let vn2 = 0;
    for (let i = k; i < n; i++) vn2 += v[i] * v[i];
    const vn = Math.sqrt(vn2);
    for (let i = k; i < n; i++) v[i] /= vn;
    // a ← H a on rows k.., columns k..
    for (let j = k; j < n; j++) {
      let s = 0;
      for (let i = k; i < n; i++) s += v[i] * a[i * n + j];
      for (let i = k; i < n; i++) a[i * n + j] -= 2 * s * v[i];
    }
    // q ← q H (Q = H_0 H_1 … H_{n−1})
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let i = k; i < n; i++) s += q[r * n + i] * v[i];
      for (let i = k; i < n; i++) q[r * n + i] -= 2 * s * v[i];
    }
    // R_kk = α; make it positive by flipping column k of Q.
    if (alpha < 0) for (let r = 0; r < n; r++) q[r * n + k] = -q[r * n + k];
  }
  return q;
}

// ---------------------------------------------------------------------------------------------------------
// Quadratic ½ xᵀAx − bᵀx

export interface QuadraticOptions {
  /** The spectrum of A, any order; nonzero values give a unique stationary point. */
  eigenvalues: ArrayLike<number>;
  seed: number;
  /** Linear term; default: standard normal from `rng(seed, 'quadratic', 'b')`. */
  b?: ArrayLike<number>;
}

export interface Quadratic {
  dim: number;
  /** A = Q diag(λ) Qᵀ, exactly symmetric, dim×dim. */
  A: Float64Array;
  b: Float64Array;
  /** Orthogonal; column j is the unit eigenvector for `eigenvalues[j]`. */
  Q: Float64Array;
  eigenvalues: Float64Array;
  /** A⁻¹b when A is positive definite, else null (no minimiser exists). */
  minimizer: Float64Array | null;
  /** f(x*) = −½ bᵀA⁻¹b when A is positive definite, else null. */
  minValue: number | null;
  value(x: ArrayLike<number>): number;
  gradient(x: ArrayLike<number>): Float64Array;
  /** A v. */
  hvp(v: ArrayLike<number>): Float64Array;
}

export function quadratic(opts: QuadraticOptions): Quadratic {
  const lambda = Float64Array.from(opts.eigenvalues);
  const n = lambda.length;
  checkDim('quadratic', 'eigenvalues.length', n);
  for (const l of lambda)
    if (!Number.isFinite(l)) throw new RangeError(`quadratic: eigenvalue ${l} is not finite`);
  const q = randomOrthogonal(n, opts.seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] * lambda[k] * q[j * n + k];
      a[i * n + j] = s;
      a[j * n + i] = s; // mirror: summing in the other order would break exact symmetry
    }
  }
  let b: Float64Array;
  if (opts.b) {
    b = Float64Array.from(opts.b);
    if (b.length !== n) throw new RangeError(`quadratic: b has length ${b.length}, expected ${n}`);
  } else {
    b = rng(opts.seed, 'quadratic', 'b').fillNormal(new Float64Array(n));
  }
  const positiveDefinite = lambda.every((l) => l > 0);
  let minimizer: Float64Array | null = null;
  let minValue: number | null = null;
  if (positiveDefinite) {
    // x* = Q diag(1/λ) Qᵀ b, via the eigenbasis rather than a solve: exact up to rounding for any κ.
    const c = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += q[i * n + k] * b[i];
      c[k] = s / lambda[k];
    }
    minimizer = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] * c[k];
      minimizer[i] = s;
    }
    minValue = -0.5 * dot(b, minimizer);
  }
  const hvp = (v: ArrayLike<number>): Float64Array => matVec(a, n, n, v);
  return {
    dim: n,
    A: a,
    b,
    Q: q,
    eigenvalues: lambda,
    minimizer,
    minValue,
    hvp,
    value: (x) => 0.5 * dot(x, hvp(x)) - dot(b, x),
    gradient: (x) => {
      const g = hvp(x);
      for (let i = 0; i < n; i++) g[i] -= b[i];
      return g;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Logistic regression: y ~ Bernoulli(σ(xᵀw*)), no intercept

export interface RegressionDataOptions {
  samples: number;
  features: number;
  seed: number;
  /** Scale of the true weight's entries relative to 1/√features (default 3: logits of order 3). */
  weightScale?: number;
}

export interface LogisticRegressionData {
  n: number;
  d: number;
  /** n×d features, float32-representable values. */
  X: Float64Array;
  /** Labels in {0, 1}. */
  y: Int32Array;
  /** The weight the labels were sampled from, length d. */
  trueWeight: Float64Array;
  /** The same data as a `Dataset` (Float32 inputs `[d]`, int labels, 2 classes). */
  dataset: ArrayDataset;
}

export function logisticRegressionData(opts: RegressionDataOptions): LogisticRegressionData {
  const { samples: n, features: d, seed } = opts;
  checkDim('logisticRegressionData', 'samples', n);
  checkDim('logisticRegressionData', 'features', d);
  const X = gaussianFloat32(n * d, 1, seed, 'logistic', 'X');
  const trueWeight = gaussianFloat32(d, (opts.weightScale ?? 3) / Math.sqrt(d), seed, 'logistic', 'w');
  const r = rng(seed, 'logistic', 'labels');
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = r.uniform() < sigmoid(rowDot(X, d, i, trueWeight)) ? 1 : 0;
  const dataset = new ArrayDataset({
    name: `logistic-${d}`,
    inputs: Float32Array.from(X),
    featureShape: [d],
    targets: y,
    numClasses: 2,
  });
  return { n, d, X, y, trueWeight, dataset };
}

/** Mean negative log-likelihood (1/n) Σ log(1 + e^{z}) − y z with z = xᵀw, computed stably. */
export function logisticLoss(X: ArrayLike<number>, y: ArrayLike<number>, w: ArrayLike<number>): number {
  const { n, d } = dims(X, y, w);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const z = rowDot(X, d, i, w);
    s += softplus(z) - y[i] * z;
  }
  return s / n;
}

/** ∇ = Xᵀ(p − y)/n with p = σ(Xw). */
export function logisticGradient(
  X: ArrayLike<number>,
  y: ArrayLike<number>,
  w: ArrayLike<number>,
): Float64Array {
  const { n, d } = dims(X, y, w);
  const g = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const r = sigmoid(rowDot(X, d, i, w)) - y[i];
    for (let j = 0; j < d; j++) g[j] += r * X[i * d + j];
  }
  for (let j = 0; j < d; j++) g[j] /= n;
  return g;
}

/**
 * H = Xᵀ diag(p(1−p)) X / n, d×d. Independent of the labels; for this canonical-link model the Hessian
 * equals the Gauss-Newton matrix, so it is also the target of GNB estimates.
 */
export function logisticHessian(X: ArrayLike<number>, n: number, w: ArrayLike<number>): Float64Array {
  const d = w.length;
  if (X.length !== n * d)
    throw new RangeError(`logisticHessian: X has ${X.length} values, expected ${n}×${d}`);
  const h = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    const p = sigmoid(rowDot(X, d, i, w));
    const c = p * (1 - p);
    for (let a = 0; a < d; a++) {
      const ca = c * X[i * d + a];
      for (let b = a; b < d; b++) h[a * d + b] += ca * X[i * d + b];
    }
  }
  symmetrizeUpper(h, d, 1 / n);
  return h;
}

// ---------------------------------------------------------------------------------------------------------
// Softmax regression: y ~ Categorical(softmax(W* x)), W [k, d] like a PyTorch Linear weight, no bias

export interface SoftmaxRegressionOptions extends RegressionDataOptions {
  classes: number;
}

export interface SoftmaxRegressionData {
  n: number;
  d: number;
  k: number;
  X: Float64Array;
  /** Labels in [0, k). */
  y: Int32Array;
  /** k×d, row c = weights of class c (PyTorch `Linear.weight` layout). */
  trueWeight: Float64Array;
  dataset: ArrayDataset;
}

export function softmaxRegressionData(opts: SoftmaxRegressionOptions): SoftmaxRegressionData {
  const { samples: n, features: d, classes: k, seed } = opts;
  checkDim('softmaxRegressionData', 'samples', n);
  checkDim('softmaxRegressionData', 'features', d);
  if (!Number.isInteger(k) || k < 2)
    throw new RangeError(`softmaxRegressionData: classes must be >= 2, got ${k}`);
  const X = gaussianFloat32(n * d, 1, seed, 'softmax', 'X');
  const trueWeight = gaussianFloat32(k * d, (opts.weightScale ?? 3) / Math.sqrt(d), seed, 'softmax', 'W');
  const r = rng(seed, 'softmax', 'labels');
  const y = new Int32Array(n);
  const p = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    softmaxRow(X, d, i, trueWeight, k, p);
    y[i] = r.categorical(p);
  }
  const dataset = new ArrayDataset({
    name: `softmax-${d}x${k}`,
    inputs: Float32Array.from(X),
    featureShape: [d],
    targets: y,
    numClasses: k,
  });
  return { n, d, k, X, y, trueWeight, dataset };
}

/** Mean cross-entropy −(1/n) Σ log softmax(W xᵢ)[yᵢ]. */
export function softmaxRegressionLoss(
  X: ArrayLike<number>,
  y: ArrayLike<number>,
  W: ArrayLike<number>,
  k: number,
): number {
  const n = y.length;
  const d = W.length / k;
  checkXW(X, n, d, W, k);
  const p = new Float64Array(k);
  let s = 0;
  for (let i = 0; i < n; i++) {
    softmaxRow(X, d, i, W, k, p);
    s -= Math.log(p[y[i]]);
  }
  return s / n;
}

/** ∇_W, k×d: (1/n) Σ (pᵢ − onehot(yᵢ)) xᵢᵀ. */
export function softmaxRegressionGradient(
  X: ArrayLike<number>,
  y: ArrayLike<number>,
  W: ArrayLike<number>,
  k: number,
): Float64Array {
  const n = y.length;
  const d = W.length / k;
  checkXW(X, n, d, W, k);
  const g = new Float64Array(k * d);
  const p = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    softmaxRow(X, d, i, W, k, p);
    p[y[i]] -= 1;
    for (let c = 0; c < k; c++) for (let j = 0; j < d; j++) g[c * d + j] += p[c] * X[i * d + j];
  }
  for (let t = 0; t < g.length; t++) g[t] /= n;
  return g;
}

/**
 * H = (1/n) Σᵢ (diag(pᵢ) − pᵢpᵢᵀ) ⊗ xᵢxᵢᵀ, a (k·d)×(k·d) matrix over the parameters in `W`'s row-major
 * order (index c·d + j ↔ W[c, j]). Like the logistic case it equals the Gauss-Newton matrix.
 */
export function softmaxRegressionHessian(
  X: ArrayLike<number>,
  n: number,
  W: ArrayLike<number>,
  k: number,
): Float64Array {
  const d = W.length / k;
  checkXW(X, n, d, W, k);
  const m = k * d;
  const h = new Float64Array(m * m);
  const p = new Float64Array(k);
  const xx = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    softmaxRow(X, d, i, W, k, p);
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) xx[a * d + b] = X[i * d + a] * X[i * d + b];
    for (let c1 = 0; c1 < k; c1++) {
      for (let c2 = c1; c2 < k; c2++) {
        const s = (c1 === c2 ? p[c1] : 0) - p[c1] * p[c2];
        for (let a = 0; a < d; a++) {
          const row = (c1 * d + a) * m + c2 * d;
          for (let b = 0; b < d; b++) h[row + b] += s * xx[a * d + b];
        }
      }
    }
  }
  symmetrizeUpper(h, m, 1 / n, d);
  return h;
}

// ---------------------------------------------------------------------------------------------------------
// helpers

function checkDim(fn: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v < 1)
    throw new RangeError(`${fn}: ${what} must be a positive integer, got ${v}`);
}

function gaussianFloat32(len: number, std: number, seed: number, ...path: string[]): Float64Array {
  const out = rng(seed, ...path).fillNormal(new Float64Array(len), 0, std);
  for (let i = 0; i < len; i++) out[i] = Math.fround(out[i]);
  return out;
}

function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function rowDot(X: ArrayLike<number>, d: number, i: number, w: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += X[i * d + j] * w[j];
  return s;
}

function matVec(a: Float64Array, rows: number, cols: number, v: ArrayLike<number>): Float64Array {
  if (v.length !== cols) throw new RangeError(`vector has length ${v.length}, expected ${cols}`);
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) out[i] = rowDot(a, cols, i, v);
  return out;
}

/** Softmax of row i's logits W xᵢ into p, shifted by the max for stability. */
function softmaxRow(
  X: ArrayLike<number>,
  d: number,
  i: number,
  W: ArrayLike<number>,
  k: number,
  p: Float64Array,
): void {
  let max = -Infinity;
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += W[c * d + j] * X[i * d + j];
    p[c] = s;
    if (s > max) max = s;
  }
  let z = 0;
  for (let c = 0; c < k; c++) {
    p[c] = Math.exp(p[c] - max);
    z += p[c];
  }
  for (let c = 0; c < k; c++) p[c] /= z;
}

function dims(X: ArrayLike<number>, y: ArrayLike<number>, w: ArrayLike<number>): { n: number; d: number } {
  const n = y.length;
  const d = w.length;
  if (X.length !== n * d) throw new RangeError(`X has ${X.length} values, expected ${n}×${d}`);
  return { n, d };
}

function checkXW(X: ArrayLike<number>, n: number, d: number, W: ArrayLike<number>, k: number): void {
  if (!Number.isInteger(d)) throw new RangeError(`W has ${W.length} values, not a multiple of k = ${k}`);
  if (X.length !== n * d) throw new RangeError(`X has ${X.length} values, expected ${n}×${d}`);
}

/**
 * Scales the accumulated upper triangle and mirrors it into the lower one. `blockCols` > 1 means the upper
 * triangle was accumulated by blocks (c1 ≤ c2), so whole blocks below the block diagonal are mirrored.
 */
function symmetrizeUpper(h: Float64Array, m: number, scale: number, blockCols = 1): void {
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < m; c++) {
      const upper = blockCols === 1 ? c >= r : Math.floor(c / blockCols) >= Math.floor(r / blockCols);
      if (upper) h[r * m + c] *= scale;
    }
  }
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < m; c++) {
      const lower = blockCols === 1 ? c < r : Math.floor(c / blockCols) < Math.floor(r / blockCols);
      if (lower) h[r * m + c] = h[c * m + r];
    }
  }
}
