/**
 * Self-checks of the float32 LayerNorm kernels against the CPU reference, run once when they
 * register: a few small deterministic inputs — one column, widths that leave a partial quad, the
 * GPT's 64 — and rows of special values (all equal, a NaN, ±Inf, huge, tiny, ±0). Every output must
 * be within CHECK_TOL of the reference, |got − want| / max(|want|, 1), and NaN exactly where it is NaN.
 */
import { cpuNormalize } from '../cpu/elementwise.js';
import { cpuLayerNorm, cpuLayerNormVjp } from '../cpu/layer-norm.js';
import type { LayerNormKernel, LayerNormVjpKernel, NormalizeKernel } from '../registry.js';

/** The tolerance a float32 backend promises against the CPU reference (test/tensor/kernels.test.ts's). */
export const CHECK_TOL = 1e-5;

const SHAPES: readonly [number, number][] = [
  [1, 1],
  [3, 5],
  [2, 7],
  [4, 18],
  [5, 64],
  [40, 3],
];

/** Rows of special values, each `cols` wide (cols ≥ 2). */
function specialRows(cols: number): number[][] {
  const row = (f: (j: number) => number): number[] => Array.from({ length: cols }, (_, j) => f(j));
  return [
    row(() => 2.5),
    row((j) => (j === 1 ? NaN : j)),
    row((j) => (j === 0 ? Infinity : j)),
    row((j) => (j === cols - 1 ? -Infinity : -j)),
    row((j) => (j % 2 ? 1e15 : -3e14 * j)),
    row((j) => (j % 3) * 1e-30),
    row((j) => (j % 2 ? -0 : 0)),
  ];
}

/** Deterministic inputs in ±3 around 0.5: rows × cols, then (with `special`) the special rows when cols ≥ 2. */
function inputs(rows: number, cols: number, special = true): { x: Float32Array; rows: number } {
  let seed = 24680 + 7 * rows + cols;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 6 - 2.5;
  const extra = special && cols >= 2 ? specialRows(cols) : [];
  const x = new Float32Array((rows + extra.length) * cols).map(next);
  extra.forEach((r, i) => x.set(r, (rows + i) * cols));
  return { x, rows: rows + extra.length };
}

/** Whether every element of `got` is within CHECK_TOL of `want`, NaN where it is NaN. */
export function closeTo(got: ArrayLike<number>, want: ArrayLike<number>): boolean {
  for (let i = 0; i < want.length; i++) {
    const w = want[i];
    const v = got[i];
    if (Number.isNaN(w) || Number.isNaN(v)) {
      if (Number.isNaN(w) !== Number.isNaN(v)) return false;
    } else if (!(Math.abs(v - w) / Math.max(Math.abs(w), 1) <= CHECK_TOL)) return false;
  }
  return true;
}

const gainOf = (cols: number): Float32Array => new Float32Array(cols).map((_, j) => 1 + ((j % 5) - 2) / 4);
const biasOf = (cols: number): Float32Array => new Float32Array(cols).map((_, j) => ((j % 3) - 1) / 8);

export function forwardSelfCheck(kernel: LayerNormKernel): boolean {
  for (const [r0, cols] of SHAPES) {
    const { x, rows } = inputs(r0, cols);
    const n = rows * cols;
    const [gain, bias] = [gainOf(cols), biasOf(cols)];
    const want = [n, n, rows].map((k) => new Float32Array(k));
    const got = [n, n, rows].map((k) => new Float32Array(k).fill(NaN));
    cpuLayerNorm(x, rows, cols, 1e-5, gain, bias, want[0], want[1], want[2]);
    kernel(x, rows, cols, 1e-5, gain, bias, got[0], got[1], got[2]);
    if (!want.every((w, k) => closeTo(got[k], w))) return false;
  }
  return true;
}

export function normalizeSelfCheck(kernel: NormalizeKernel): boolean {
  for (const [r0, cols] of SHAPES) {
    const { x, rows } = inputs(r0, cols);
    const n = rows * cols;
    const want = [n, rows].map((k) => new Float32Array(k));
    const got = [n, rows].map((k) => new Float32Array(k).fill(NaN));
    cpuNormalize(x, rows, cols, 1e-5, want[0], want[1]);
    kernel(x, rows, cols, 1e-5, got[0], got[1]);
    if (!want.every((w, k) => closeTo(got[k], w))) return false;
  }
  return true;
}

/**
 * The backward on the reference forward's x̂ and rstd of the same inputs, with a deterministic g;
 * without the special rows too, whose NaNs would otherwise reach every column sum.
 */
export function backwardSelfCheck(kernel: LayerNormVjpKernel): boolean {
  for (const [r0, cols, special] of SHAPES.flatMap(([r, c]) => [
    [r, c, false] as const,
    [r, c, true] as const,
  ])) {
    const { x, rows } = inputs(r0, cols, special);
    const n = rows * cols;
    const [gain, bias] = [gainOf(cols), biasOf(cols)];
    const [y, xhat, rstd] = [n, n, rows].map((k) => new Float32Array(k));
    cpuLayerNorm(x, rows, cols, 1e-5, gain, bias, y, xhat, rstd);
    const g = new Float32Array(n).map((_, i) => Math.sin(i) * 2);
    const want = [n, cols, cols].map((k) => new Float32Array(k));
    const got = [n, cols, cols].map((k) => new Float32Array(k).fill(NaN));
    cpuLayerNormVjp(g, xhat, rstd, gain, rows, cols, want[0], want[1], want[2]);
    kernel(g, xhat, rstd, gain, rows, cols, got[0], got[1], got[2]);
    if (!want.every((w, k) => closeTo(got[k], w))) return false;
  }
  return true;
}
