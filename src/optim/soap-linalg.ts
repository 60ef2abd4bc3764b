/**
 * The float32 matrix products of a SOAP step, through the project's matmul kernel (the WebAssembly SIMD
 * backend when available): rotations into and out of an eigenbasis and the Shampoo factor EMAs. An
 * identity side (a dimension over maxPrecondDim, or a vector's missing second factor) is an empty Q and
 * its product is skipped.
 */
import '../kernels/index.js'; // registers the CPU reference and the wasm backend of 'matmul'
import { kernel } from '../kernels/registry.js';

const ZERO = new Int32Array(1);

/** out (m×n) = op(A)·op(B); A is [m,k] (or [k,m] with tA), B is [k,n] (or [n,k] with tB). */
export function gemm(
  a: Float32Array | Float64Array,
  b: Float32Array | Float64Array,
  out: Float32Array | Float64Array,
  m: number,
  n: number,
  k: number,
  transA = false,
  transB = false,
): void {
  if (k === 0) {
    out.fill(0, 0, m * n);
    return;
  }
  kernel('matmul')(a, b, out, { batch: 1, m, n, k, transA, transB, aOffsets: ZERO, bOffsets: ZERO });
}

/** Scratch for one rows×cols rotation, grown on demand and kept by the transformation. */
export class Scratch {
  private buf = new Float32Array(0);
  get(n: number): Float32Array {
    if (this.buf.length < n) this.buf = new Float32Array(n);
    return this.buf.subarray(0, n);
  }
}

/** out = Q_Lᵀ·X·Q_R (into the eigenbasis); X and out are rows×cols, empty Q = identity. */
export function rotate(
  x: Float32Array,
  ql: Float32Array,
  qr: Float32Array,
  rows: number,
  cols: number,
  out: Float32Array,
  tmp: Scratch,
): void {
  const n = rows * cols;
  if (ql.length === 0 && qr.length === 0) {
    out.set(x.subarray(0, n));
    return;
  }
  if (qr.length === 0) return gemm(ql, x, out, rows, cols, rows, true, false);
  if (ql.length === 0) return gemm(x, qr, out, rows, cols, cols);
  const t = tmp.get(n);
  gemm(ql, x, t, rows, cols, rows, true, false);
  gemm(t, qr, out, rows, cols, cols);
}

/** out = Q_L·X·Q_Rᵀ (back to the parameter space). */
export function rotateBack(
  x: Float32Array,
  ql: Float32Array,
  qr: Float32Array,
  rows: number,
  cols: number,
  out: Float32Array,
  tmp: Scratch,
): void {
  const n = rows * cols;
  if (ql.length === 0 && qr.length === 0) {
    out.set(x.subarray(0, n));
    return;
  }
  if (qr.length === 0) return gemm(ql, x, out, rows, cols, rows);
  if (ql.length === 0) return gemm(x, qr, out, rows, cols, cols, false, true);
  const t = tmp.get(n);
  gemm(ql, x, t, rows, cols, rows);
  gemm(t, qr, out, rows, cols, cols, false, true);
}

/**
 * out = β·F + (1 − β)·P with P = X·Xᵀ (side 'left', rows×rows) or Xᵀ·X ('right', cols×cols): soap.py's
 * GG.lerp_(outer_product, 1 − β).
 */
export function factorEma(
  f: Float32Array,
  x: Float32Array,
  rows: number,
  cols: number,
  side: 'left' | 'right',
  beta: number,
  out: Float32Array,
  tmp: Scratch,
): void {
  const n = side === 'left' ? rows : cols;
  const p = tmp.get(n * n);
  if (side === 'left') gemm(x, x, p, rows, rows, cols, false, true);
  else gemm(x, x, p, cols, cols, rows, true, false);
  const c = 1 - beta;
  // lerp_(P, c) = F + c·(P − F), as torch writes it.
  for (let i = 0; i < n * n; i++) out[i] = f[i] + c * (p[i] - f[i]);
}
