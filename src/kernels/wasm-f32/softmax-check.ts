/**
 * The float32 softmax kernels' error bounds and their self-check against the CPU reference.
 *
 * Bounds, in u = 2^−24 (float32's unit roundoff), for a row of width w (the causal row's live width):
 * - softmax: |got − want| ≤ (⌈w/4⌉ + 8 + |ln want| + ln w)·u·|want| + 2^−126 — the exponential
 *   (≤ 1 ulp, f32x4-exp.ts) of x − m, which rounds to float32 first: its error of up to u·|x − m|,
 *   |x − m| ≤ |ln want| + ln w, becomes a relative error as large in exp (float32's conditioning, in
 *   any float32 softmax); the sum in four partial sums of ⌈w/4⌉ terms each and their combination;
 *   1/s and the product; and the absolute term for results the exponential flushes to 0 (below
 *   e^−87.683 ≈ 8.3e−39) or rounds in the subnormal range.
 * - log-softmax: |got − want| ≤ (⌈w/4⌉ + 8)·u·(|want| + log w + 1) — x − m and the last subtraction
 *   round once each; log s carries the sum's relative error as an absolute one.
 * - softmax VJP: |got − want| ≤ (⌈w/8⌉ + 6)·u·|y|·(|g| + Σ|g⊙y|); log-softmax VJP:
 *   |got − want| ≤ (⌈w/8⌉ + 6)·u·(|g| + exp(y)·Σ|g|) — eight partial sums of ⌈w/8⌉ terms, a product
 *   and a difference (and exp(y)).
 * Measured against float64 math (test/kernels/f32-softmax.test.ts, row widths 1–80, logits N(0, 1)
 * and N(0, 8²), rows with −Inf, −1e30, NaN, +Inf and equal entries): at most 0.73 of the forward
 * bound and 0.33 of the VJP bound; softmax entries of [2048, 80] rows of N(0, 8²) logits within
 * 2.3e−6 relative (entries down to e^−40 or so, where the |x − m| term dominates). `want` is float64
 * math; against the CPU reference (itself within ½ ulp of it) the self-check allows one u more.
 */
import type { FloatArray } from '../arrays.js';
import { cpuCausalSoftmax, cpuLogSoftmaxVjp, cpuSoftmax, cpuSoftmaxVjp } from '../cpu/softmax.js';
import type {
  CausalSoftmaxKernel,
  LogSoftmaxVjpKernel,
  SoftmaxKernel,
  SoftmaxVjpKernel,
} from '../registry.js';

export const U32 = 2 ** -24;
/**
 * Absolute slack for softmax results below the normal range: the exponential flushes exp(x − m) to 0
 * where x − m < −87.683 (f32x4-exp.ts, `emitNonPositive`), an error under 2^−126.
 */
const SUBNORMAL_SLACK = 2 ** -126;

/** The softmax bound's factor of u·|want| (log-softmax: of u·(|want| + log w + 1)) for width w. */
export const softmaxUnits = (w: number): number => Math.ceil(w / 4) + 8;
/** The VJPs' bound's factor of u·scale for width w. */
export const vjpUnits = (w: number): number => Math.ceil(w / 8) + 6;

/** Whether got[i] is within bound[i] of want[i], NaN exactly where want is NaN, infinities equal. */
export function withinBounds(got: FloatArray, want: ArrayLike<number>, bound: ArrayLike<number>): boolean {
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    if (Number.isNaN(w) || !Number.isFinite(w)) {
      if (!Object.is(got[i], w)) return false;
    } else if (!(Math.abs(got[i] - w) <= bound[i])) return false;
  }
  return true;
}

/** Per-entry bounds of the forward kernels for x as [rows, cols] (causal: live widths r mod cols + 1). */
export function forwardBounds(
  want: ArrayLike<number>,
  rows: number,
  cols: number,
  mode: 'softmax' | 'log' | 'causal',
  slack = 0,
): Float64Array {
  const bound = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const w = mode === 'causal' ? (r % cols) + 1 : cols;
    const k = (softmaxUnits(w) + slack) * U32;
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      const a = Math.abs(want[i]);
      // a causal row's masked entries must be exactly 0
      if (j >= w) bound[i] = 0;
      else if (mode === 'log') bound[i] = k * (a + Math.log(w) + 1);
      else if (a === 0) bound[i] = SUBNORMAL_SLACK;
      else bound[i] = (k + U32 * (Math.abs(Math.log(a)) + Math.log(w))) * a + SUBNORMAL_SLACK;
    }
  }
  return bound;
}

/** Per-entry bounds of the VJPs (y, g as [rows, cols]). */
export function vjpBounds(
  y: FloatArray,
  g: FloatArray,
  rows: number,
  cols: number,
  log: boolean,
  slack = 0,
): Float64Array {
  const bound = new Float64Array(rows * cols);
  const k = (vjpUnits(cols) + slack) * U32;
  for (let r = 0; r < rows; r++) {
    let abs = 0;
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      abs += Math.abs(log ? g[i] : g[i] * y[i]);
    }
    for (let j = 0; j < cols; j++) {
      const i = r * cols + j;
      bound[i] = log
        ? k * (Math.abs(g[i]) + Math.exp(y[i]) * abs)
        : k * Math.abs(y[i]) * (Math.abs(g[i]) + abs);
    }
  }
  return bound;
}

const SHAPES: readonly [number, number][] = [
  [1, 1],
  [3, 5],
  [12, 6],
  [5, 13],
  [16, 8],
];

/** Check inputs: spread logits, a row of equal values, −Inf and very negative entries, a NaN row. */
function checkInputs(rows: number, cols: number): { x: Float32Array; g: Float32Array } {
  let seed = 24680 + rows * 31 + cols;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const n = rows * cols;
  const x = new Float32Array(n).map(() => next() * 30);
  const g = new Float32Array(n).map(() => next() * 3);
  if (rows > 2) {
    x.fill(1.5, cols, 2 * cols); // a row of equal values
    x[2 * cols] = -Infinity;
    x[n - 1] = -1e30;
  }
  if (rows > 4) x[4 * cols] = NaN;
  return { x, g };
}

/** The float32 softmax forward (plain, log, causal) against the CPU reference within the bounds. */
export function f32SoftmaxSelfCheck(softmax: SoftmaxKernel, causal: CausalSoftmaxKernel): boolean {
  for (const [rows, cols] of SHAPES) {
    const { x } = checkInputs(rows, cols);
    const n = rows * cols;
    for (const mode of ['softmax', 'log', 'causal'] as const) {
      const want = new Float32Array(n);
      const got = new Float32Array(n).fill(NaN);
      if (mode === 'causal') {
        cpuCausalSoftmax(x, rows, cols, want);
        causal(x, rows, cols, got);
      } else {
        cpuSoftmax(x, rows, cols, want, mode === 'log');
        softmax(x, rows, cols, got, mode === 'log');
      }
      if (!withinBounds(got, want, forwardBounds(want, rows, cols, mode, 1))) return false;
    }
  }
  return true;
}

/** A float32 softmax VJP (log: the log-softmax one) against the CPU reference within the bounds. */
export function f32SoftmaxVjpSelfCheck(vjp: SoftmaxVjpKernel | LogSoftmaxVjpKernel, log: boolean): boolean {
  for (const [rows, cols] of SHAPES) {
    const { x, g } = checkInputs(rows, cols);
    const n = rows * cols;
    const y = new Float32Array(n);
    if (log) cpuSoftmax(x, rows, cols, y, true);
    else cpuCausalSoftmax(x, rows, cols, y);
    const want = new Float32Array(n);
    (log ? cpuLogSoftmaxVjp : cpuSoftmaxVjp)(y, g, rows, cols, want);
    const got = new Float32Array(n).fill(NaN);
    vjp(y, g, rows, cols, got);
    if (!withinBounds(got, want, vjpBounds(y, g, rows, cols, log, 1))) return false;
  }
  return true;
}
