/**
 * The eigenbases SOAP rotates into, in float64 (official soap.py get_orthogonal_matrix and
 * get_orthogonal_matrix_QR):
 *
 * - `eigenbasisDescending`: a full eigendecomposition of a symmetric factor, eigenvectors as columns
 *   ordered by descending eigenvalue (torch.linalg.eigh, then flipped). Householder tridiagonalisation,
 *   then the tridiagonal QL of diagnostics/symmetric-eigen.ts: O(n³) with a small constant, where the
 *   cyclic Jacobi solver takes ~10 sweeps of 3n³ at n = 256.
 * - `refreshEigenbasis`: the cheap refresh between: estimated eigenvalues diag(QᵀLQ), columns re-sorted
 *   descending by them, one power-iteration step L·Q and a Householder QR of it. Householder (not
 *   Gram–Schmidt) because L is often rank-deficient (a 256×64 gradient gives a 256×256 factor of rank
 *   ≤ 64 for the first steps): a zero column of L·Q still gets an orthonormal completion.
 *
 * Matrices are row-major n×n; a basis holds its vectors as columns. Errors (non-finite input, no
 * convergence) throw; SOAP turns them into a skipped step.
 */
import { tridiagonalEigen } from '../diagnostics/symmetric-eigen.js';
import { blockedHouseholderQ, formQ, reflectorBlocks } from './blocked-householder.js';
import { gemm } from './soap-linalg.js';

/** Row-major n×n float64 matrix from a symmetric float32/float64 one, symmetrised as (A + Aᵀ)/2. */
function symmetrised(a: ArrayLike<number>, n: number): Float64Array {
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const x = 0.5 * (a[i * n + j] + a[j * n + i]);
      if (!Number.isFinite(x)) throw new RangeError('eigenbasis: factor entries must be finite');
      s[i * n + j] = x;
    }
  return s;
}

/**
 * Householder reduction of symmetric `a` (overwritten) to tridiagonal T = Zᵀ A Z; returns T's diagonal,
 * its off-diagonal and Z (row-major, orthogonal).
 */
function tridiagonalise(a: Float64Array, n: number): { d: Float64Array; e: Float64Array; z: Float64Array } {
  const vs = new Float64Array(n * n); // reflector k in row k, from column k + 1
  const tau = new Float64Array(n);
  const v = new Float64Array(n);
  const w = new Float64Array(n);
  const count = Math.max(0, n - 2);
  for (let k = 0; k < count; k++) {
    // Reflect x = A[k+1.., k] onto ±‖x‖·e₁ with H = I − 2vvᵀ (v unit, sign chosen to avoid cancellation).
    let norm = 0;
    for (let i = k + 1; i < n; i++) norm += a[i * n + k] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const x0 = a[(k + 1) * n + k];
    const alpha = x0 > 0 ? -norm : norm;
    let vn = 0;
    for (let i = k + 1; i < n; i++) {
      v[i] = a[i * n + k] - (i === k + 1 ? alpha : 0);
      vn += v[i] * v[i];
    }
    vn = Math.sqrt(vn);
    if (vn === 0) continue;
    for (let i = k + 1; i < n; i++) v[i] /= vn;
    // Trailing block: A ← HAH = A − 2(v wᵀ + w vᵀ), p = Av, w = p − (vᵀp)v.
    let kk = 0;
    for (let i = k + 1; i < n; i++) {
      let p = 0;
      const row = i * n;
      for (let j = k + 1; j < n; j++) p += a[row + j] * v[j];
      w[i] = p;
      kk += v[i] * p;
    }
    for (let i = k + 1; i < n; i++) w[i] -= kk * v[i];
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = 2 * v[i];
      const wi = 2 * w[i];
      for (let j = k + 1; j < n; j++) a[row + j] -= vi * w[j] + wi * v[j];
    }
    a[(k + 1) * n + k] = alpha;
    a[k * n + k + 1] = alpha;
    for (let i = k + 2; i < n; i++) a[i * n + k] = a[k * n + i] = 0;
    vs.set(v.subarray(k + 1, n), k * n + k + 1);
    tau[k] = 2;
  }
  // Z = H_0·H_1·…, formed in blocks with the matmul kernel.
  const starts = Int32Array.from({ length: count }, (_, k) => k + 1);
  const z = formQ(reflectorBlocks(vs, tau, starts, count, n), n);
  const d = new Float64Array(n);
  const e = new Float64Array(Math.max(0, n - 1));
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
  for (let i = 0; i + 1 < n; i++) e[i] = a[(i + 1) * n + i];
  return { d, e, z };
}

/** Eigenvalues (descending) and eigenvectors (columns, same order) of a symmetric n×n matrix. */
export function eigenDescending(
  matrix: ArrayLike<number>,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  if (matrix.length !== n * n) throw new RangeError(`eigenDescending: ${matrix.length} entries, not ${n}²`);
  const { d, e, z } = tridiagonalise(symmetrised(matrix, n), n);
  const t = tridiagonalEigen(d, e); // ascending
  // Eigenvectors of A = Z · (eigenvectors of T), columns reversed to descending order.
  const zv = new Float64Array(n * n);
  if (n > 0) gemm(z, t.vectors, zv, n, n, n);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const src = n - 1 - j;
    values[j] = t.values[src];
    for (let i = 0; i < n; i++) vectors[i * n + j] = zv[i * n + src];
  }
  return { values, vectors };
}

/** The eigenbasis of a symmetric factor as float32 columns, descending eigenvalue first. */
export function eigenbasisDescending(factor: ArrayLike<number>, n: number, out: Float32Array): Float32Array {
  const { vectors } = eigenDescending(factor, n);
  for (let i = 0; i < n * n; i++) out[i] = vectors[i];
  return out;
}

/**
 * Q of a Householder QR of the row-major n×n matrix `m` (overwritten), one reflector at a time: the
 * reference for blocked-householder.ts, which SOAP uses. Signs follow from the reflections (no sign
 * fixing: SOAP is invariant to them).
 */
export function householderQ(m: Float64Array, n: number): Float64Array {
  // Work column-major for contiguous inner loops: c[j·n + i] = m[i·n + j].
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c[j * n + i] = m[i * n + j];
  const vs = new Float64Array(n * n); // reflector k in vs[k·n + k..]
  const used = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const ck = k * n;
    let norm = 0;
    for (let i = k; i < n; i++) norm += c[ck + i] * c[ck + i];
    norm = Math.sqrt(norm);
    if (norm === 0) continue;
    const alpha = c[ck + k] > 0 ? -norm : norm;
    const vk = k * n;
    let vn = 0;
    for (let i = k; i < n; i++) {
      const x = c[ck + i] - (i === k ? alpha : 0);
      vs[vk + i] = x;
      vn += x * x;
    }
    if (vn === 0) continue;
    const inv = 1 / Math.sqrt(vn);
    for (let i = k; i < n; i++) vs[vk + i] *= inv;
    used[k] = 1;
    for (let j = k; j < n; j++) {
      const cj = j * n;
      let dot = 0;
      for (let i = k; i < n; i++) dot += vs[vk + i] * c[cj + i];
      dot *= 2;
      for (let i = k; i < n; i++) c[cj + i] -= dot * vs[vk + i];
    }
  }
  // Q = H₀H₁…H_{n−1}·I, applied backwards to the identity's columns (column-major in qc).
  const qc = new Float64Array(n * n);
  for (let i = 0; i < n; i++) qc[i * n + i] = 1;
  for (let k = n - 1; k >= 0; k--) {
    if (!used[k]) continue;
    const vk = k * n;
    for (let j = k; j < n; j++) {
      // Columns j < k of H_{k+1}…I are still e_j, which H_k (acting on rows ≥ k) leaves alone.
      const cj = j * n;
      let dot = 0;
      for (let i = k; i < n; i++) dot += vs[vk + i] * qc[cj + i];
      if (dot === 0) continue;
      dot *= 2;
      for (let i = k; i < n; i++) qc[cj + i] -= dot * vs[vk + i];
    }
  }
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) q[i * n + j] = qc[j * n + i];
  return q;
}

/**
 * One refresh of soap.py's get_orthogonal_matrix_QR for one factor: order[j] = the old column that
 * becomes column j (sorted by estimated eigenvalue diag(QᵀLQ), descending), and Q_new = qr(L·Q[:, order]).
 * `lq` is L·Q (computed by the caller with the matmul kernel); Q_new is written to `out`.
 */
export function refreshEigenbasis(
  lq: ArrayLike<number>,
  q: ArrayLike<number>,
  n: number,
  out: Float32Array,
): Int32Array {
  const est = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += q[i * n + j] * lq[i * n + j];
    if (!Number.isFinite(s)) throw new RangeError('eigenbasis: refresh met a non-finite factor');
    est[j] = s;
  }
  // Stable descending sort, as the order of equal estimates must not depend on the engine.
  const order = Int32Array.from({ length: n }, (_, j) => j).sort((a, b) => est[b] - est[a] || a - b);
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] = lq[i * n + order[j]];
  const qn = blockedHouseholderQ(m, n);
  for (let i = 0; i < n * n; i++) out[i] = qn[i];
  return order;
}
