/**
 * CPU reference softmax kernels over rows of x viewed as [rows, cols]: softmax / log-softmax, the
 * causal (attention-masked) softmax, and the softmax VJP y ⊙ (g − Σ g⊙y) as one pass.
 * Row statistics are float64. Float32 arrays take their exponentials from `expForFloat32` (see
 * exp.ts: ≈4e-11 relative error, well inside float32 rounding); float64 arrays use Math.exp.
 */
import type { CausalSoftmaxKernel, SoftmaxKernel, SoftmaxVjpKernel } from '../registry.js';
import type { FloatArray } from '../../tensor/tensor.js';
import { expForFloat32 } from './exp.js';

/**
 * Softmax of the first `width` entries of the row at `o` into out; entries width..cols are set to 0.
 * The exponentials are kept in `row` (float64 scratch of length ≥ width) between the sum and the
 * scaling, so each is computed once and the output is rounded once. `exp` is passed in so each
 * dtype's caller gets its own specialised copy after inlining.
 */
function softmaxRow(
  x: FloatArray,
  out: FloatArray,
  o: number,
  width: number,
  cols: number,
  log: boolean,
  exp: (v: number) => number,
  row: Float64Array,
): void {
  let m = -Infinity;
  for (let j = 0; j < width; j++) if (x[o + j] > m) m = x[o + j];
  let s = 0;
  for (let j = 0; j < width; j++) {
    const e = exp(x[o + j] - m);
    row[j] = e;
    s += e;
  }
  if (log) {
    const lse = m + Math.log(s);
    for (let j = 0; j < width; j++) out[o + j] = x[o + j] - lse;
  } else {
    const inv = 1 / s;
    for (let j = 0; j < width; j++) out[o + j] = row[j] * inv;
  }
  for (let j = width; j < cols; j++) out[o + j] = 0;
}

function rows32(x: FloatArray, rows: number, cols: number, out: FloatArray, log: boolean, causal: boolean) {
  const row = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    softmaxRow(x, out, r * cols, causal ? (r % cols) + 1 : cols, cols, log, expForFloat32, row);
  }
}

function rows64(x: FloatArray, rows: number, cols: number, out: FloatArray, log: boolean, causal: boolean) {
  const row = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    softmaxRow(x, out, r * cols, causal ? (r % cols) + 1 : cols, cols, log, Math.exp, row);
  }
}

/** Row-wise softmax or log-softmax, numerically stable (the row max is subtracted). */
export const cpuSoftmax: SoftmaxKernel = (x, rows, cols, out, log) => {
  if (out instanceof Float64Array) rows64(x, rows, cols, out, log, false);
  else rows32(x, rows, cols, out, log, false);
};

/**
 * Causal softmax of attention scores: rows come in blocks of `cols` (one [T, T] score matrix per
 * batch item and head), and row i of a block attends to columns 0..i only; the masked entries are
 * exactly 0, as exp of a −1e9 fill would underflow to, without reading them.
 */
export const cpuCausalSoftmax: CausalSoftmaxKernel = (x, rows, cols, out) => {
  if (out instanceof Float64Array) rows64(x, rows, cols, out, false, true);
  else rows32(x, rows, cols, out, false, true);
};

/** out = y ⊙ (g − Σ_row g⊙y), the softmax VJP; the row sums are float64. */
export const cpuSoftmaxVjp: SoftmaxVjpKernel = (y, g, rows, cols, out) => {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += g[o + j] * y[o + j];
    for (let j = 0; j < cols; j++) out[o + j] = y[o + j] * (g[o + j] - dot);
  }
};
