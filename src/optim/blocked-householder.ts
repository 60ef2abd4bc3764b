/**
 * Blocked Householder QR (compact WY form, LAPACK dgeqrf/dorgqr style) in float64, with the trailing
 * updates and the accumulation of Q done by the project's matmul kernel (WebAssembly SIMD f64): SOAP
 * refreshes every eigenbasis with a QR, and at the char-GPT's 256×256 factors the one-reflector-at-a-time
 * loop in JavaScript took ~200 ms each, against a few ms here. A block of reflectors H_j = I − τ_j v_j v_jᵀ
 * (v unit, τ 2, or 0 for a zero column) is I − V·T·Vᵀ with T upper triangular (dlarft's recurrence).
 *
 * The same reflectors and signs as the unblocked `householderQ` (eigenbasis.ts), so the two agree to
 * rounding; that one stays as the reference.
 */
import { gemm } from './soap-linalg.js';

/** Panel width: wide enough for the products to dominate, narrow enough for the panel loops to stay small. */
const NB = 32;

/** T (jb×jb, row-major, upper triangular) with H_0…H_{jb−1} = I − V T Vᵀ; Vt is V stored as jb rows of m. */
function blockT(vt: Float64Array, tau: Float64Array, jb: number, m: number): Float64Array {
  const t = new Float64Array(jb * jb);
  const w = new Float64Array(jb);
  for (let j = 0; j < jb; j++) {
    t[j * jb + j] = tau[j];
    if (tau[j] === 0) continue;
    // w = V[:, 0:j]ᵀ v_j; T[0:j, j] = −τ_j·T[0:j, 0:j]·w.
    for (let p = 0; p < j; p++) {
      let s = 0;
      for (let i = 0; i < m; i++) s += vt[p * m + i] * vt[j * m + i];
      w[p] = s;
    }
    for (let p = 0; p < j; p++) {
      let s = 0;
      for (let q = p; q < j; q++) s += t[p * jb + q] * w[q];
      t[p * jb + j] = -tau[j] * s;
    }
  }
  return t;
}

/**
 * x ← (I − V·op(T)·Vᵀ)·x for x (m×cols, row-major, contiguous): op(T) = Tᵀ applies the block's
 * transpose (Qᵀ, the QR's left update), T itself applies the block (Q's accumulation).
 */
function applyBlock(
  vt: Float64Array,
  t: Float64Array,
  jb: number,
  m: number,
  x: Float64Array,
  cols: number,
  transposeT: boolean,
): void {
  const w = new Float64Array(jb * cols);
  gemm(vt, x, w, jb, cols, m); // W = Vᵀ·X
  const w2 = new Float64Array(jb * cols);
  gemm(t, w, w2, jb, cols, jb, transposeT); // W2 = op(T)·W
  const y = new Float64Array(m * cols);
  gemm(vt, w2, y, m, cols, jb, true); // Y = V·W2
  for (let i = 0; i < m * cols; i++) x[i] -= y[i];
}

/** Copies rows r0.. and columns c0..c0+cols of the row-major n×n `a` into a contiguous block, or back. */
function copyBlock(
  a: Float64Array,
  n: number,
  r0: number,
  c0: number,
  cols: number,
  blk: Float64Array,
  back: boolean,
) {
  const rows = n - r0;
  for (let i = 0; i < rows; i++) {
    const src = (r0 + i) * n + c0;
    if (back) a.set(blk.subarray(i * cols, (i + 1) * cols), src);
    else blk.set(a.subarray(src, src + cols), i * cols);
  }
}

/** Q of the QR of the row-major n×n matrix `a` (overwritten), with blocked Householder reflections. */
export function blockedHouseholderQ(a: Float64Array, n: number): Float64Array {
  const blocks: { k: number; jb: number; vt: Float64Array; t: Float64Array }[] = [];
  for (let k = 0; k < n; k += NB) {
    const jb = Math.min(NB, n - k);
    const m = n - k;
    // The panel a[k.., k..k+jb] as jb contiguous columns (pc[j·m + i]) for the unblocked factorization.
    const pc = new Float64Array(jb * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < jb; j++) pc[j * m + i] = a[(k + i) * n + k + j];
    const vt = new Float64Array(jb * m);
    const tau = new Float64Array(jb);
    for (let j = 0; j < jb; j++) {
      const cj = j * m;
      let norm = 0;
      for (let i = j; i < m; i++) norm += pc[cj + i] * pc[cj + i];
      norm = Math.sqrt(norm);
      if (norm === 0) continue;
      const alpha = pc[cj + j] > 0 ? -norm : norm;
      let vn = 0;
      for (let i = j; i < m; i++) {
        const x = pc[cj + i] - (i === j ? alpha : 0);
        vt[cj + i] = x;
        vn += x * x;
      }
      if (vn === 0) continue;
      const inv = 1 / Math.sqrt(vn);
      for (let i = j; i < m; i++) vt[cj + i] *= inv;
      tau[j] = 2;
      for (let q = j + 1; q < jb; q++) {
        const cq = q * m;
        let dot = 0;
        for (let i = j; i < m; i++) dot += vt[cj + i] * pc[cq + i];
        dot *= 2;
        for (let i = j; i < m; i++) pc[cq + i] -= dot * vt[cj + i];
      }
    }
    const t = blockT(vt, tau, jb, m);
    blocks.push({ k, jb, vt, t });
    const cols = n - k - jb;
    if (cols > 0) {
      const trail = new Float64Array(m * cols);
      copyBlock(a, n, k, k + jb, cols, trail, false);
      applyBlock(vt, t, jb, m, trail, cols, true);
      copyBlock(a, n, k, k + jb, cols, trail, true);
    }
  }
  return formQ(
    blocks.map((b) => ({ r0: b.k, jb: b.jb, vt: b.vt, t: b.t })),
    n,
  );
}

/** A block of reflectors acting on rows r0..n−1: V stored as jb rows of n − r0 (vt), T from blockT. */
export interface ReflectorBlock {
  r0: number;
  jb: number;
  vt: Float64Array;
  t: Float64Array;
}

/**
 * The n×n product B_0·B_1·…·B_last of reflector blocks with non-decreasing r0, explicitly. Applied from the
 * last block to I: B_i touches rows ≥ r0_i, where the columns < r0_i of the product so far are still those
 * of I (zero there), so only Q[r0_i.., r0_i..] changes.
 */
export function formQ(blocks: readonly ReflectorBlock[], n: number): Float64Array {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let b = blocks.length - 1; b >= 0; b--) {
    const { r0, jb, vt, t } = blocks[b];
    const m = n - r0;
    const sub = new Float64Array(m * m);
    copyBlock(q, n, r0, r0, m, sub, false);
    applyBlock(vt, t, jb, m, sub, m, false);
    copyBlock(q, n, r0, r0, m, sub, true);
  }
  return q;
}

/**
 * Groups unit reflectors H_j = I − τ_j v_j v_jᵀ (v_j in row j of the row-major `vs`, zero before row
 * starts[j], starts non-decreasing) into blocks of NB for formQ.
 */
export function reflectorBlocks(
  vs: Float64Array,
  tau: Float64Array,
  starts: ArrayLike<number>,
  count: number,
  n: number,
): ReflectorBlock[] {
  const blocks: ReflectorBlock[] = [];
  for (let j0 = 0; j0 < count; j0 += NB) {
    const jb = Math.min(NB, count - j0);
    const r0 = starts[j0];
    const m = n - r0;
    const vt = new Float64Array(jb * m);
    for (let p = 0; p < jb; p++) vt.set(vs.subarray((j0 + p) * n + r0, (j0 + p + 1) * n), p * m);
    blocks.push({ r0, jb, vt, t: blockT(vt, tau.subarray(j0, j0 + jb), jb, m) });
  }
  return blocks;
}
