/**
 * CPU reference softmax kernels over rows of x viewed as [rows, cols]: softmax / log-softmax, the
 * causal (attention-masked) softmax, and the softmax VJP y ⊙ (g − Σ g⊙y) as one pass.
 * Row statistics are float64. Float32 arrays take their exponentials from `expForFloat32` (see
 * exp.ts: ≈4e-11 relative error, well inside float32 rounding); float64 arrays use Math.exp.
 */
import type {
  CausalSoftmaxKernel,
  LogSoftmaxVjpKernel,
  SoftmaxKernel,
  SoftmaxVjpKernel,
} from '../registry.js';
import type { FloatArray } from '../arrays.js';
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

/**
 * Σ g[o..o+cols) in `cpuSum`'s order for a row (cpu/reduce.ts): four float64 accumulators over
 * strides of four, the tail into the first, then (a0 + a1) + (a2 + a3) added to a zero slot.
 */
function rowSum(g: FloatArray, o: number, cols: number): number {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let j = 0;
  for (; j + 4 <= cols; j += 4) {
    a0 = a0 + g[o + j];
    a1 = a1 + g[o + j + 1];
    a2 = a2 + g[o + j + 2];
    a3 = a3 + g[o + j + 3];
  }
  for (; j < cols; j++) a0 = a0 + g[o + j];
  a0 = a0 + a1;
  a2 = a2 + a3;
  a0 = a0 + a2;
  return 0 + a0;
}

/**
 * out = g − exp(y)·Σ_row g, the log-softmax VJP, in one pass per row in place of a row sum, exp, a
 * broadcast product and a difference (four arrays and passes). Float32 rounds exactly where those
 * ops store: the row sum (summed as `cpuSum` sums a row), exp(y) (`expForFloat32`, as `cpuExp`), the
 * product and the difference; so the result is theirs bit for bit. Float64 uses Math.exp, as
 * `cpuExp` does.
 */
export const cpuLogSoftmaxVjp: LogSoftmaxVjpKernel = (y, g, rows, cols, out) => {
  if (out instanceof Float64Array) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const s = rowSum(g, o, cols);
      for (let j = 0; j < cols; j++) out[o + j] = g[o + j] - Math.exp(y[o + j]) * s;
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const s = Math.fround(rowSum(g, o, cols));
    for (let j = 0; j < cols; j++)
      out[o + j] = g[o + j] - Math.fround(Math.fround(expForFloat32(y[o + j])) * s);
  }
};
