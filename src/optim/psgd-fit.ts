/**
 * One fitting step of PSGD-Kron's factors on the Lie group of upper-triangular (or diagonal) matrices
 * with positive diagonals, dQ = −μ·E·Q ("EQ" in psgd_torch, the rule of kron_torch's `_update_precond`
 * and psgd_torch's `update_precond_kron_eq`). Given A = Q·h and B = Q⁻ᵀ·v for a pair (v, h ≈ H·v), the
 * per-factor gradient is E_i = contraction of A·Aᵀ − B·Bᵀ over the other dimension; upper triangular part
 * for a triangular factor. The step μ = lr / L normalises by L, an upper estimate of the local Lipschitz
 * constant: ell = a cheap lower bound of ‖A·Aᵀ + B·Bᵀ‖₂ (max entry for a diagonal factor), folded into
 * L ← max(β·L + (1 − β)·ell, ell) as psgd_torch; β = 0 gives kron_torch's per-update normalisation.
 * In expectation the fit is stationary where P·E[h·hᵀ]·P = E[v·vᵀ]: for h = H·v with v ~ N(0, I) and SPD H
 * that is P·H²·P = I, i.e. P = H⁻¹ (exactly reachable when H is Kronecker-structured like Q).
 */
import { type KronPlan, matmul } from './psgd-factors.js';

/** float32's smallest normal: the floor of the normaliser (kron_torch's `tiny`). */
const TINY = 1.1754943508222875e-38;

/** Σ over the other dimension of x⊙x: a length-s vector (row sums for dim 0, column sums for dim 1). */
function sumSquares(x: Float32Array, rows: number, cols: number, dim: 0 | 1): Float64Array {
  const out = new Float64Array(dim === 0 ? rows : cols);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const v = x[i * cols + j];
      out[dim === 0 ? i : j] += v * v;
    }
  return out;
}

/** X·Xᵀ (dim 0, m×m) or Xᵀ·X (dim 1, n×n). */
function gram(x: Float32Array, rows: number, cols: number, dim: 0 | 1): Float32Array {
  if (dim === 0) return matmul(x, x, new Float32Array(rows * rows), rows, rows, cols, false, true);
  return matmul(x, x, new Float32Array(cols * cols), cols, cols, rows, true, false);
}

/**
 * kron_torch's `_lb`: a cheap, deterministic lower bound of the spectral norm of a symmetric PSD matrix S
 * (s×s): start from its largest column, one step of power iteration, ‖S·x‖ with x = Sᵀc/‖Sᵀc‖.
 * psgd_torch's `norm_lower_bound_spd` uses a random 32-dim subspace instead; both only need a lower bound.
 */
export function normLowerBound(S: Float32Array, s: number): number {
  let maxAbs = 0;
  for (let i = 0; i < S.length; i++) maxAbs = Math.max(maxAbs, Math.abs(S[i]));
  if (!(maxAbs > 0)) return maxAbs;
  // Scaled by the largest entry first (as kron_torch) so the squares below cannot overflow.
  const a = new Float64Array(S.length);
  for (let i = 0; i < S.length; i++) a[i] = S[i] / maxAbs;
  const colSq = new Float64Array(s);
  for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) colSq[j] += a[i * s + j] * a[i * s + j];
  let col = 0;
  for (let j = 1; j < s; j++) if (colSq[j] > colSq[col]) col = j;
  // x = Sᵀ·c (c the largest column), normalised; then ‖S·x‖.
  const x = new Float64Array(s);
  for (let i = 0; i < s; i++) {
    const c = a[i * s + col];
    for (let j = 0; j < s; j++) x[j] += c * a[i * s + j];
  }
  let nx = 0;
  for (let j = 0; j < s; j++) nx += x[j] * x[j];
  nx = Math.sqrt(nx);
  let ny = 0;
  for (let k = 0; k < s; k++) {
    let acc = 0;
    for (let j = 0; j < s; j++) acc += a[k * s + j] * x[j];
    ny += (acc / nx) ** 2;
  }
  return Math.sqrt(ny) * maxAbs;
}

export interface FitResult {
  factors: Float32Array[];
  lipschitz: number[];
}

/**
 * New factors (fresh arrays; `q` is only read) and Lipschitz estimates after one step with A = Q·h and
 * B = Q⁻ᵀ·v, both computed from the factors before the step, as the references do.
 */
export function fitFactors(
  p: KronPlan,
  q: readonly Float32Array[],
  lips: readonly number[],
  A: Float32Array,
  B: Float32Array,
  lr: number,
  beta: number,
): FitResult {
  const { rows: m, cols: n } = p;
  const kinds = p.row === 'none' ? [p.col] : [p.row, p.col];
  const dims: (0 | 1)[] = p.row === 'none' ? [1] : [0, 1];
  const factors: Float32Array[] = [];
  const lipschitz: number[] = [];
  for (let f = 0; f < kinds.length; f++) {
    const dim = dims[f];
    const s = dim === 0 ? m : n;
    const old = q[f];
    if (kinds[f] === 'diag') {
      const t1 = sumSquares(A, m, n, dim);
      const t2 = sumSquares(B, m, n, dim);
      let ell = 0;
      for (let i = 0; i < s; i++) ell = Math.max(ell, t1[i] + t2[i]);
      const L = Math.max(beta * lips[f] + (1 - beta) * ell, ell);
      const mu = lr / Math.max(L, TINY);
      const next = new Float32Array(s);
      for (let i = 0; i < s; i++) next[i] = old[i] - mu * (t1[i] - t2[i]) * old[i];
      factors.push(next);
      lipschitz.push(L);
      continue;
    }
    const t1 = gram(A, m, n, dim);
    const t2 = gram(B, m, n, dim);
    const sum = new Float32Array(s * s);
    const E = new Float32Array(s * s);
    for (let i = 0; i < s; i++)
      for (let j = 0; j < s; j++) {
        const k = i * s + j;
        sum[k] = t1[k] + t2[k];
        if (j >= i) E[k] = t1[k] - t2[k];
      }
    const ell = normLowerBound(sum, s);
    const L = Math.max(beta * lips[f] + (1 - beta) * ell, ell);
    const mu = lr / Math.max(L, TINY);
    const EQ = matmul(E, old, new Float32Array(s * s), s, s, s);
    const next = new Float32Array(s * s);
    for (let k = 0; k < s * s; k++) next[k] = old[k] - mu * EQ[k];
    factors.push(next);
    lipschitz.push(L);
  }
  return { factors, lipschitz };
}

/**
 * Rescales the two factors of a matrix to the geometric mean of their max-abs entries (Q unchanged):
 * kron_torch's `_balance_Q` / psgd_torch's `balance_kron_precond`, which keep the factors' dynamic ranges
 * apart from over/underflow. Returns fresh arrays.
 */
export function balanceFactors(q: readonly Float32Array[]): Float32Array[] {
  if (q.length < 2) return [...q];
  const norms = q.map((f) => f.reduce((a, v) => Math.max(a, Math.abs(v)), 0));
  const gmean = Math.sqrt(norms[0] * norms[1]);
  if (!(gmean > 0) || !Number.isFinite(gmean)) return [...q];
  return q.map((f, i) => f.map((v) => v * (gmean / norms[i])));
}

/** Whether every entry of every factor is finite. */
export function factorsFinite(q: readonly Float32Array[]): boolean {
  for (const f of q) for (let i = 0; i < f.length; i++) if (f[i] - f[i] !== 0) return false;
  return true;
}
