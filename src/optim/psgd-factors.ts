/**
 * The Kronecker-factored preconditioner of PSGD-Kron for one parameter tensor, seen as an m×n matrix G
 * (a 1-D tensor is 1×n with no row factor; higher-order tensors are merged into a matrix as kron_torch
 * does). Q = Q1 ⊗ Q2 acts as Q·G = Q1·G·Q2ᵀ and P = QᵀQ as P·G = Q1ᵀQ1·G·Q2ᵀQ2. Each factor is either an
 * upper-triangular s×s matrix (stored dense, row-major, zeros below the diagonal) or a diagonal (a vector
 * of s entries). Float32 storage as the reference implementations; the dense products go through the
 * registered matmul kernel (WebAssembly SIMD when available), the triangular solves and reductions are
 * loops here.
 */
import '../kernels/index.js';
import { kernel } from '../kernels/registry.js';

export type FactorKind = 'tri' | 'diag' | 'none';

/** How one tensor of the layout is preconditioned: plain data, kept in the optimizer state. */
export interface KronPlan {
  offset: number;
  rows: number;
  cols: number;
  /** 'none' only for tensors of order < 2 (no row factor). */
  row: FactorKind;
  col: 'tri' | 'diag';
}

export type MemorySave = 'none' | 'smartOneDiag' | 'oneDiag' | 'allDiag';

/**
 * kron_torch's `_init_Q_exprs` choice: a dimension gets a diagonal factor when its size is 1, exceeds
 * `maxSize`, the tensor has fewer than 2 dimensions, or the memory-save mode says so; else triangular.
 */
export function planTensor(
  offset: number,
  shape: readonly number[],
  maxSize: number,
  save: MemorySave,
): KronPlan {
  let dims = shape.length === 0 ? [1] : [...shape];
  if (dims.length > 2) {
    // kron_torch's merge_dims: the split whose (last − first) is smaller.
    const n = dims.reduce((a, b) => a * b, 1);
    const s1 = [n / dims[dims.length - 1], dims[dims.length - 1]];
    const s2 = [dims[0], n / dims[0]];
    dims = s1[1] - s1[0] <= s2[1] - s2[0] ? s1 : s2;
  }
  if (dims.length === 1) return { offset, rows: 1, cols: dims[0], row: 'none', col: 'diag' };
  const [m, n] = dims;
  const diag = [false, false];
  if (save === 'allDiag') diag.fill(true);
  else if (save === 'oneDiag') diag[m >= n ? 0 : 1] = true;
  else if (save === 'smartOneDiag' && m !== n) diag[m > n ? 0 : 1] = true;
  const kind = (s: number, d: boolean) => (s === 1 || s > maxSize || d ? 'diag' : 'tri');
  return { offset, rows: m, cols: n, row: kind(m, diag[0]), col: kind(n, diag[1]) };
}

/** The factors a plan needs, each scale·I (scale^(1/order) per factor, so Q = scale·I). */
export function initFactors(p: KronPlan, scale: number): Float32Array[] {
  const order = p.row === 'none' ? 1 : 2;
  const s = scale ** (1 / order);
  const make = (kind: FactorKind, size: number) => {
    if (kind === 'diag') return new Float32Array(size).fill(s);
    const q = new Float32Array(size * size);
    for (let i = 0; i < size; i++) q[i * size + i] = s;
    return q;
  };
  return p.row === 'none' ? [make(p.col, p.cols)] : [make(p.row, p.rows), make(p.col, p.cols)];
}

const ZERO = new Int32Array([0]);

/** out = op(a)·op(b), out m×n, inner k (see MatmulSpec for the storage of transposed operands). */
export function matmul(
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  m: number,
  n: number,
  k: number,
  transA = false,
  transB = false,
): Float32Array {
  if (k === 0) return out.fill(0);
  kernel('matmul')(a, b, out, { batch: 1, m, n, k, transA, transB, aOffsets: ZERO, bOffsets: ZERO });
  return out;
}

function scaleRows(x: Float32Array, d: Float32Array, cols: number, pow: number): void {
  for (let i = 0; i < d.length; i++) {
    const s = pow === 2 ? d[i] * d[i] : d[i];
    for (let j = 0; j < cols; j++) x[i * cols + j] *= s;
  }
}

function scaleCols(x: Float32Array, d: Float32Array, rows: number, pow: number): void {
  const n = d.length;
  for (let i = 0; i < rows; i++) for (let j = 0; j < n; j++) x[i * n + j] *= pow === 2 ? d[j] * d[j] : d[j];
}

/** Q·G = Q1·G·Q2ᵀ (kron_torch's exprA), a fresh m×n array. */
export function applyQ(p: KronPlan, q: readonly Float32Array[], g: Float32Array): Float32Array {
  const { rows: m, cols: n } = p;
  let x: Float32Array = g.slice();
  if (p.row === 'tri') x = matmul(q[0], x, new Float32Array(m * n), m, n, m);
  else if (p.row === 'diag') scaleRows(x, q[0], n, 1);
  const q2 = q[q.length - 1];
  if (p.col === 'tri') x = matmul(x, q2, new Float32Array(m * n), m, n, n, false, true);
  else scaleCols(x, q2, m, 1);
  return x;
}

/** P·G = Q1ᵀQ1·G·Q2ᵀQ2 (kron_torch's exprP), a fresh m×n array. */
export function precondition(p: KronPlan, q: readonly Float32Array[], g: Float32Array): Float32Array {
  const { rows: m, cols: n } = p;
  let x: Float32Array = g.slice();
  if (p.row === 'tri') {
    x = matmul(q[0], x, new Float32Array(m * n), m, n, m);
    x = matmul(q[0], x, new Float32Array(m * n), m, n, m, true);
  } else if (p.row === 'diag') scaleRows(x, q[0], n, 2);
  const q2 = q[q.length - 1];
  if (p.col === 'tri') {
    x = matmul(x, q2, new Float32Array(m * n), m, n, n, false, true);
    x = matmul(x, q2, new Float32Array(m * n), m, n, n);
  } else scaleCols(x, q2, m, 2);
  return x;
}

/** Rows of a triangular solve done by substitution between two matmuls (see solveUpperT). */
const BLOCK = 32;

/**
 * X ← Q⁻ᵀ·X in place, Q upper triangular s×s, X s×c row-major: forward substitution on Qᵀ (lower),
 * blocked by BLOCK rows so that all but the diagonal blocks is one matmul per block (the kernel's speed
 * instead of a scalar loop; a 256×64 solve is ~90% matmul). float32 as torch's solve_triangular there.
 */
function solveUpperT(q: Float32Array, s: number, x: Float32Array, c: number): void {
  for (let i0 = 0; i0 < s; i0 += BLOCK) {
    const i1 = Math.min(s, i0 + BLOCK);
    const w = i1 - i0;
    if (i0 > 0) {
      // X_I −= (Q[0:i0, I])ᵀ · X[0:i0, :], the rows already solved.
      const blk = new Float32Array(i0 * w);
      for (let k = 0; k < i0; k++) for (let j = 0; j < w; j++) blk[k * w + j] = q[k * s + i0 + j];
      const r = matmul(blk, x, new Float32Array(w * c), w, c, i0, true, false);
      for (let t = 0; t < w * c; t++) x[i0 * c + t] -= r[t];
    }
    for (let i = i0; i < i1; i++) {
      const ri = i * c;
      for (let k = i0; k < i; k++) {
        const coef = q[k * s + i];
        if (coef === 0) continue;
        const rk = k * c;
        for (let j = 0; j < c; j++) x[ri + j] -= coef * x[rk + j];
      }
      const d = q[i * s + i];
      for (let j = 0; j < c; j++) x[ri + j] /= d;
    }
  }
}

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const y = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) y[j * rows + i] = x[i * cols + j];
  return y;
}

/**
 * Q⁻ᵀ·V = Q1⁻ᵀ·V·Q2⁻¹ (kron_torch's conjB, by triangular solves), a fresh m×n array: the second half of
 * the pair whose first half is Q·h, so that the fit drives P·h towards v.
 */
export function solveConj(p: KronPlan, q: readonly Float32Array[], v: Float32Array): Float32Array {
  const { rows: m, cols: n } = p;
  let x: Float32Array = v.slice();
  if (p.row === 'tri') solveUpperT(q[0], m, x, n);
  else if (p.row === 'diag') for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) x[i * n + j] /= q[0][i];
  const q2 = q[q.length - 1];
  if (p.col === 'tri') {
    // Z·Q2 = Y ⇔ Q2ᵀ·Zᵀ = Yᵀ: the same solve on the transpose.
    const xt = transpose(x, m, n);
    solveUpperT(q2, n, xt, m);
    x = transpose(xt, n, m);
  } else for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) x[i * n + j] /= q2[j];
  return x;
}
