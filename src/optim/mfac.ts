/**
 * M-FAC (IST-DASLab/M-FAC optim.py, class MFAC with HInvFastUpMulti): the step is F⁻¹·g for the damped
 * empirical Fisher over a sliding window of the last m gradients,
 *
 *   F = δ·I + (1/m)·Σᵢ gᵢgᵢᵀ,   δ = damp,   so F⁻¹ starts as λ·I with λ = 1/damp
 *
 * (the repo's naive reference HInvSlow starts from diag(1/damp) and applies Sherman-Morrison with
 * denominator m + gᵀHg). Officially G is an m×d matrix of zeros at first and the newest gradient replaces
 * the oldest row (ring buffer) BEFORE the product is taken; zero rows add nothing while the 1/m factor stays
 * m. We store only the rows filled so far — the same operator without m·d zeros up front.
 *
 * By Woodbury, with G the window (rows gᵢ) and K = GGᵀ:
 *
 *   F⁻¹x = λ·x − λ²·Gᵀ (m·I + λ·K)⁻¹ G x
 *
 * m·I + λK is symmetric positive definite, so we keep its Cholesky factor. A step costs O(m·d) for the new
 * row of K and the two products with G, O(m²) for the triangular solves, and O(m³) to refactor after the
 * window changes (the official dynamic algorithm also redoes its O(m³) setup each update). The large λ
 * (1e5 by default) makes the two terms nearly cancel, so everything after G is float64.
 *
 * Options follow MFAC.__init__/step: weight decay adds wd·θ to the gradient before it enters the window;
 * momentum is applied to the preconditioned direction, v ← μ·v + (1−μ)·F⁻¹g; θ ← θ − lr·v.
 */
import { addDecayedWeights } from './weight-decay.js';
import { chain, type ChainState } from './chain.js';
import { scaleByLearningRate } from './learning-rate.js';
import type { CoordinateMask, GradientTransformation, ScalarOrSchedule } from './transform.js';
import {
  checkKnownOptions,
  checkLength,
  checkMask,
  checkNumber,
  checkScalarOrSchedule,
  checkStateCount,
  checkStateObject,
  checkStateVector,
} from './validate.js';

export interface MfacState {
  /** Gradients seen so far. */
  count: number;
  /** The window: min(count, m) rows of length d; row r holds the gradient of step r (mod m). */
  rows: Float32Array[];
  /** K = GGᵀ (m×m, row-major, float64); entries of unfilled slots are 0. */
  gram: Float64Array;
  /** Lower Cholesky factor of m·I + λ·K for the current window (m×m, row-major). */
  chol: Float64Array;
  /** The damping δ the factor was built with (λ = 1/δ). */
  cholDamp: number;
  /** Momentum buffer of the preconditioned direction. */
  velocity: Float32Array;
}

export interface ScaleByMfacOptions {
  /** Window length (number of gradients kept). */
  m?: number;
  damp?: number;
  momentum?: number;
}

/** Solves (LLᵀ) y = b for a lower factor L, returning y. */
function choleskySolve(l: Float64Array, n: number, b: Float64Array): Float64Array {
  const y = new Float64Array(b);
  for (let i = 0; i < n; i++) {
    let s = y[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * y[k];
    y[i] = s / l[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * y[k];
    y[i] = s / l[i * n + i];
  }
  return y;
}

/**
 * Cholesky factor of m·I + λ·K when only the first `filled` slots hold gradients: the rest of the matrix is
 * m·I, whose factor is √m·I, and factoring just the leading block gives the same numbers as factoring all.
 */
function factor(gram: Float64Array, m: number, damp: number, filled: number): Float64Array {
  const lambda = 1 / damp;
  const a = new Float64Array(m * m);
  for (let i = 0; i < filled; i++) {
    for (let j = 0; j < filled; j++) a[i * m + j] = lambda * gram[i * m + j];
    a[i * m + i] += m;
  }
  // Factor the leading filled×filled block in place (row stride m).
  for (let j = 0; j < filled; j++) {
    let diag = a[j * m + j];
    for (let k = 0; k < j; k++) diag -= a[j * m + k] * a[j * m + k];
    if (!(diag > 0)) {
      throw new Error(
        `mfac: the windowed Fisher is not positive definite (pivot ${diag}); non-finite gradients?`,
      );
    }
    const ljj = Math.sqrt(diag);
    a[j * m + j] = ljj;
    for (let i = j + 1; i < filled; i++) {
      let s = a[i * m + j];
      for (let k = 0; k < j; k++) s -= a[i * m + k] * a[j * m + k];
      a[i * m + j] = s / ljj;
    }
    for (let k = j + 1; k < filled; k++) a[j * m + k] = 0;
  }
  const root = Math.sqrt(m);
  for (let i = filled; i < m; i++) a[i * m + i] = root;
  return a;
}

/** F⁻¹x for the window held in `state` (uses the stored factor; O(m·d + m²)). Float64 result. */
export function mfacInverseFisherProduct(state: MfacState, x: Float32Array): Float64Array {
  const owner = 'mfac';
  const rows = state.rows;
  const m = Math.round(Math.sqrt(state.chol.length));
  if (m * m !== state.chol.length) throw new Error(`${owner}: state.chol is not square`);
  const d = state.velocity.length;
  checkLength(owner, 'vector', x, d);
  const lambda = 1 / state.cholDamp;
  const gx = new Float64Array(m);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    let s = 0;
    for (let j = 0; j < d; j++) s += row[j] * x[j];
    gx[r] = s;
  }
  return combine(rows, choleskySolve(state.chol, m, gx), x, lambda);
}

/** λ·x − λ²·Gᵀy, accumulated in float64. */
function combine(rows: Float32Array[], y: Float64Array, x: Float32Array, lambda: number): Float64Array {
  const d = x.length;
  const gty = new Float64Array(d);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    const yr = y[r];
    if (yr === 0) continue;
    for (let j = 0; j < d; j++) gty[j] += row[j] * yr;
  }
  const out = new Float64Array(d);
  const l2 = lambda * lambda;
  for (let j = 0; j < d; j++) out[j] = lambda * x[j] - l2 * gty[j];
  return out;
}

/** Emits F⁻¹g (or its momentum average) for the window including g. */
export function scaleByMfac(options: ScaleByMfacOptions = {}): GradientTransformation<MfacState> {
  const owner = 'mfac';
  checkKnownOptions(owner, options, ['m', 'damp', 'momentum']);
  const m = checkNumber(owner, 'm', options.m ?? 1024, { min: 1, integer: true });
  const damp = checkNumber(owner, 'damp', options.damp ?? 1e-5, { min: 0, minExclusive: true });
  const mu = checkNumber(owner, 'momentum', options.momentum ?? 0, { min: 0, max: 1, maxExclusive: true });
  return {
    freshUpdates: true,
    init(params) {
      const gram = new Float64Array(m * m);
      return {
        count: 0,
        rows: [],
        gram,
        chol: factor(gram, m, damp, 0),
        cholDamp: damp,
        velocity: new Float32Array(params.length),
      };
    },
    update(grads, state) {
      const s = checkStateObject(owner, state);
      const count = checkStateCount(owner, s.count);
      const velocity0 = checkStateVector(owner, 'velocity', s.velocity);
      const d = velocity0.length;
      checkLength(owner, 'gradient', grads, d);
      const rows0 = s.rows;
      if (!Array.isArray(rows0) || rows0.length !== Math.min(count, m)) {
        throw new Error(
          `${owner}: state.rows must hold min(count, m) = ${Math.min(count, m)} gradients (window m = ${m}), got ${
            Array.isArray(rows0) ? rows0.length : String(rows0)
          }`,
        );
      }
      rows0.forEach((row, r) => checkStateVector(owner, `rows[${r}]`, row, d));
      const gram0 = s.gram;
      if (!(gram0 instanceof Float64Array) || gram0.length !== m * m) {
        throw new Error(`${owner}: state.gram must be a Float64Array of length m² = ${m * m}`);
      }

      // Replace the oldest gradient (slot count mod m) by the new one, sharing the untouched rows.
      const slot = count % m;
      const g = new Float32Array(grads);
      const rows = rows0.slice();
      rows[slot] = g;
      const dots = new Float64Array(m);
      for (let r = 0; r < rows.length; r++) {
        const row = rows[r];
        let acc = 0;
        for (let j = 0; j < d; j++) acc += row[j] * g[j];
        dots[r] = acc;
      }
      const gram = new Float64Array(gram0);
      for (let r = 0; r < m; r++) {
        gram[slot * m + r] = dots[r];
        gram[r * m + slot] = dots[r];
      }
      const chol = factor(gram, m, damp, rows.length);
      // G·g is exactly the new row of K, so the product needs no second pass over G.
      const direction = combine(rows, choleskySolve(chol, m, dots), g, 1 / damp);

      let velocity: Float32Array;
      if (mu > 0) {
        velocity = new Float32Array(d);
        for (let j = 0; j < d; j++) velocity[j] = mu * velocity0[j] + (1 - mu) * direction[j];
      } else {
        velocity = Float32Array.from(direction);
      }
      return [new Float32Array(velocity), { count: count + 1, rows, gram, chol, cholDamp: damp, velocity }];
    },
  };
}

export interface MfacOptions extends ScaleByMfacOptions {
  lr?: ScalarOrSchedule;
  /** L2 term added to the gradient before it enters the window (as the official step). */
  weightDecay?: number;
  mask?: CoordinateMask;
}

/** Official defaults: lr 1e-3, damp 1e-5, m (ngrads) 1024, momentum 0, weight decay 0. */
export function mfac(options: MfacOptions = {}): GradientTransformation<ChainState> {
  const owner = 'mfac';
  checkKnownOptions(owner, options, ['lr', 'm', 'damp', 'momentum', 'weightDecay', 'mask']);
  const lr = checkScalarOrSchedule(owner, 'lr', options.lr ?? 1e-3);
  const wd = checkNumber(owner, 'weightDecay', options.weightDecay ?? 0, { min: 0 });
  const mask = checkMask(owner, 'mask', options.mask);
  const { m, damp, momentum } = options;
  return chain(addDecayedWeights(wd, mask), scaleByMfac({ m, damp, momentum }), scaleByLearningRate(lr));
}
