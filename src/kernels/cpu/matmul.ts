/**
 * CPU reference matmul. Every case is reduced to one form, C = A·Bᵀ with A as [m, k] rows and B as
 * [n, k] rows, so the inner loop reads both operands contiguously; the other transpose cases pack
 * their operand once (O(k·n), small beside the O(m·n·k) product). The micro-kernel computes a 4×4
 * block of C with 16 accumulators, so each loaded element is used four times (register blocking);
 * accumulators are JS doubles, so float32 products are summed in float64 and rounded once.
 */
import type { FloatArray } from '../arrays.js';
import type { AffineKernel, MatmulKernel, MatmulSpec } from '../registry.js';

/** C[cOff + i·n + j] = Σ_p A[aOff + i·k + p] · B[bOff + j·k + p]. */
export function gemmNT(
  A: FloatArray,
  aOff: number,
  B: FloatArray,
  bOff: number,
  C: FloatArray,
  cOff: number,
  m: number,
  n: number,
  k: number,
): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const a0 = aOff + i * k,
      a1 = a0 + k,
      a2 = a1 + k,
      a3 = a2 + k;
    const c0 = cOff + i * n,
      c1 = c0 + n,
      c2 = c1 + n,
      c3 = c2 + n;
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const b0 = bOff + j * k,
        b1 = b0 + k,
        b2 = b1 + k,
        b3 = b2 + k;
      let s00 = 0,
        s01 = 0,
        s02 = 0,
        s03 = 0,
        s10 = 0,
        s11 = 0,
        s12 = 0,
        s13 = 0;
      let s20 = 0,
        s21 = 0,
        s22 = 0,
        s23 = 0,
        s30 = 0,
        s31 = 0,
        s32 = 0,
        s33 = 0;
      for (let p = 0; p < k; p++) {
        const x0 = A[a0 + p],
          x1 = A[a1 + p],
          x2 = A[a2 + p],
          x3 = A[a3 + p];
        const y0 = B[b0 + p],
          y1 = B[b1 + p],
          y2 = B[b2 + p],
          y3 = B[b3 + p];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
        s20 += x2 * y0;
        s21 += x2 * y1;
        s22 += x2 * y2;
        s23 += x2 * y3;
        s30 += x3 * y0;
        s31 += x3 * y1;
        s32 += x3 * y2;
        s33 += x3 * y3;
      }
      C[c0 + j] = s00;
      C[c0 + j + 1] = s01;
      C[c0 + j + 2] = s02;
      C[c0 + j + 3] = s03;
      C[c1 + j] = s10;
      C[c1 + j + 1] = s11;
      C[c1 + j + 2] = s12;
      C[c1 + j + 3] = s13;
      C[c2 + j] = s20;
      C[c2 + j + 1] = s21;
      C[c2 + j + 2] = s22;
      C[c2 + j + 3] = s23;
      C[c3 + j] = s30;
      C[c3 + j + 1] = s31;
      C[c3 + j + 2] = s32;
      C[c3 + j + 3] = s33;
    }
    for (; j < n; j++) {
      const b0 = bOff + j * k;
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      for (let p = 0; p < k; p++) {
        const y = B[b0 + p];
        s0 += A[a0 + p] * y;
        s1 += A[a1 + p] * y;
        s2 += A[a2 + p] * y;
        s3 += A[a3 + p] * y;
      }
      C[c0 + j] = s0;
      C[c1 + j] = s1;
      C[c2 + j] = s2;
      C[c3 + j] = s3;
    }
  }
  for (; i < m; i++) {
    const a0 = aOff + i * k;
    const c0 = cOff + i * n;
    for (let j = 0; j < n; j++) {
      const b0 = bOff + j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += A[a0 + p] * B[b0 + p];
      C[c0 + j] = s;
    }
  }
}

/** Writes the transpose of the [rows, cols] matrix at src[off…] into dst as [cols, rows]. */
export function transposeInto(
  src: FloatArray,
  off: number,
  rows: number,
  cols: number,
  dst: FloatArray,
): void {
  // 32×32 tiles keep both the reads and the writes within a few cache lines.
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(r0 + T, rows);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(c0 + T, cols);
      for (let r = r0; r < r1; r++) {
        const s = off + r * cols;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[s + c];
      }
    }
  }
}

export const cpuMatmul: MatmulKernel = (a, b, out, spec) => {
  const { batch, m, n, k, transA, transB, aOffsets, bOffsets } = spec;
  const Ctor = a.constructor as new (n: number) => FloatArray;
  const aPack = transA ? new Ctor(m * k) : null;
  const bPack = transB ? null : new Ctor(n * k);
  let lastA = -1;
  let lastB = -1;
  for (let t = 0; t < batch; t++) {
    let A = a,
      aOff = aOffsets[t];
    if (aPack) {
      // Broadcast batch items share an operand: pack it once.
      if (aOff !== lastA) transposeInto(a, aOff, k, m, aPack);
      lastA = aOff;
      A = aPack;
      aOff = 0;
    }
    let B = b,
      bOff = bOffsets[t];
    if (bPack) {
      if (bOff !== lastB) transposeInto(b, bOff, k, n, bPack);
      lastB = bOff;
      B = bPack;
      bOff = 0;
    }
    gemmNT(A, aOff, B, bOff, out, t * m * n, m, n, k);
  }
};

/** out[i·n + j] += bias[j] for each of `rows` rows: a Linear layer's bias on its product. */
export function addRowBias(out: FloatArray, rows: number, n: number, bias: FloatArray): void {
  for (let i = 0, o = 0; i < rows; i++) for (let j = 0; j < n; j++, o++) out[o] += bias[j];
}

/** The batch offsets of a single (unbatched) product; kernels only read them. */
const UNBATCHED = new Int32Array(1);

/** The spec of x [rows, k] times wᵀ (w stored [n, k]): the product inside an affine kernel. */
export function affineSpec(rows: number, k: number, n: number): MatmulSpec {
  return { batch: 1, m: rows, n, k, transA: false, transB: true, aOffsets: UNBATCHED, bOffsets: UNBATCHED };
}

/** An affine kernel from a matmul kernel: the product, then the bias pass. */
export function affineFromMatmul(matmul: MatmulKernel): AffineKernel {
  return (x, w, bias, out, rows, k, n) => {
    matmul(x, w, out, affineSpec(rows, k, n));
    addRowBias(out, rows, n, bias);
  };
}

/** The affine kernel's CPU reference: the CPU matmul, then the bias pass. */
export const cpuAffine: AffineKernel = affineFromMatmul(cpuMatmul);
