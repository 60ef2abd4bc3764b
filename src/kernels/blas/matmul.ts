/**
 * The 'blas' backend of the 'matmul' and 'affine' kernels: one cblas_sgemm (float32) or cblas_dgemm
 * (float64) call per batch item on the arrays' own memory, transposes given to BLAS as flags, the
 * Linear layer's bias copied into the output rows first and the product added to it (beta = 1: each
 * product element rounded to the output's type, then its bias added, as the affine contract says).
 *
 * Results match the CPU reference within rounding, not bit for bit: BLAS sums over k in its own
 * blocked order with fused multiply-adds, and which kernel it uses depends on the CPU (OpenBLAS picks
 * one at load time). One library on one CPU gives the same bits on every run and in every thread, so
 * the pipeline still equals the reference loop bit for bit; runs on different CPUs may differ in the
 * last bits (the WebAssembly backend, `HESSFLOW_BLAS=off`, gives the same bits on every x86 machine).
 *
 * Mixed element types (never produced by the tensor layer) go to the CPU reference.
 */
import type { FloatArray } from '../arrays.js';
import { addRowBias, cpuMatmul } from '../cpu/matmul.js';
import type { AffineKernel, MatmulKernel } from '../registry.js';
import { type BlasLibrary, type Gemm, CBLAS_NO_TRANS, CBLAS_ROW_MAJOR, CBLAS_TRANS } from './library.js';

const at = (x: FloatArray, offset: number): FloatArray => (offset === 0 ? x : x.subarray(offset));

function gemmFor(blas: BlasLibrary, a: FloatArray, b: FloatArray, out: FloatArray): Gemm | undefined {
  if (a instanceof Float32Array && b instanceof Float32Array && out instanceof Float32Array)
    return blas.sgemm;
  if (a instanceof Float64Array && b instanceof Float64Array && out instanceof Float64Array)
    return blas.dgemm;
  return undefined;
}

export function blasMatmul(blas: BlasLibrary): MatmulKernel {
  return (a, b, out, spec) => {
    const { batch, m, n, k, transA, transB, aOffsets, bOffsets } = spec;
    const gemm = gemmFor(blas, a, b, out);
    if (!gemm) return cpuMatmul(a, b, out, spec);
    if (m === 0 || n === 0) return;
    if (k === 0) {
      out.fill(0, 0, batch * m * n);
      return;
    }
    const ta = transA ? CBLAS_TRANS : CBLAS_NO_TRANS;
    const tb = transB ? CBLAS_TRANS : CBLAS_NO_TRANS;
    const lda = transA ? m : k;
    const ldb = transB ? k : n;
    for (let t = 0; t < batch; t++) {
      gemm(
        CBLAS_ROW_MAJOR,
        ta,
        tb,
        m,
        n,
        k,
        1,
        at(a, aOffsets[t]),
        lda,
        at(b, bOffsets[t]),
        ldb,
        0,
        at(out, t * m * n),
        n,
      );
    }
  };
}

/** out = x·wᵀ + bias with x [rows, k], w [n, k]: the bias rows first, then the product added (beta 1). */
export function blasAffine(blas: BlasLibrary): AffineKernel {
  return (x, w, bias, out, rows, k, n) => {
    const gemm = gemmFor(blas, x, w, out);
    if (!gemm || bias.constructor !== out.constructor) {
      cpuMatmul(x, w, out, {
        batch: 1,
        m: rows,
        n,
        k,
        transA: false,
        transB: true,
        aOffsets: ZERO,
        bOffsets: ZERO,
      });
      addRowBias(out, rows, n, bias);
      return;
    }
    if (rows === 0 || n === 0) return;
    const b = n === bias.length ? bias : bias.subarray(0, n);
    for (let r = 0; r < rows; r++) out.set(b, r * n);
    if (k === 0) return;
    gemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, rows, n, k, 1, x, k, w, k, 1, out, n);
  };
}

const ZERO = new Int32Array(1);
