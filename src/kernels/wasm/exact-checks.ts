/**
 * Self-checks of the WebAssembly backends that promise the CPU reference's results bit for bit
 * (column sums, flat add/sub/mul, permute, LayerNorm, softmax, GELU forward and backward, tanh): each runs a backend and the reference
 * on a few deterministic inputs and compares every element with Object.is. A backend becomes the
 * default only when its check passes (see index.ts).
 */
import { cpuBinary, cpuUnary } from '../cpu/elementwise.js';
import { cpuGeluExp, cpuGeluVjp } from '../cpu/gelu.js';
import { cpuLayerNorm, cpuLayerNormVjp } from '../cpu/layer-norm.js';
import { cpuPermute } from '../cpu/layout.js';
import { cpuSum } from '../cpu/reduce.js';
import { cpuCausalSoftmax, cpuLogSoftmaxVjp, cpuSoftmax, cpuSoftmaxVjp } from '../cpu/softmax.js';
import { cpuTanhVjp } from '../cpu/tanh-vjp.js';
import type {
  BinaryKernel,
  BinaryOp,
  CausalSoftmaxKernel,
  GeluExpKernel,
  GeluVjpKernel,
  LayerNormKernel,
  LayerNormVjpKernel,
  PermuteKernel,
  ReduceKernel,
  SoftmaxKernel,
  SoftmaxVjpKernel,
  LogSoftmaxVjpKernel,
  TanhVjpKernel,
  UnaryKernel,
} from '../registry.js';

/** True when `kernel` sums float32 [R, K] tensors over R exactly as the CPU reference does. */
export function sumSelfCheck(kernel: ReduceKernel): boolean {
  let seed = 54321;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const [rows, cols] of [
    [7, 6],
    [33, 2],
    [5, 18],
  ]) {
    const x = new Float32Array(rows * cols).map(() => next() * 1000);
    const want = new Float32Array(cols);
    const got = new Float32Array(cols).fill(NaN);
    cpuSum(x, [rows, cols], want, [0, 1]);
    kernel(x, [rows, cols], got, [0, 1]);
    for (let j = 0; j < cols; j++) if (!Object.is(got[j], want[j])) return false;
  }
  return true;
}

/**
 * True when `binary` computes float32 add, sub and mul — of equal shapes and with one broadcast
 * value — exactly as the CPU reference does.
 */
export function binarySelfCheck(binary: (op: BinaryOp) => BinaryKernel): boolean {
  let seed = 98765;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const n of [64, 101, 1000]) {
    // Magnitudes spread over many binades, so every rounding case shows up.
    const a = new Float32Array(n).map(() => next() * 2 ** (next() * 40));
    const b = new Float32Array(n).map(() => next() * 2 ** (next() * 40));
    for (const op of ['add', 'sub', 'mul'] as const) {
      const want = new Float32Array(n);
      const got = new Float32Array(n).fill(NaN);
      cpuBinary(op)(a, [1], b, [1], want, [n]);
      binary(op)(a, [1], b, [1], got, [n]);
      for (let i = 0; i < n; i++) if (!Object.is(got[i], want[i])) return false;
      // b[0] broadcast to every element.
      cpuBinary(op)(a, [1], b, [0], want, [n]);
      got.fill(NaN);
      binary(op)(a, [1], b, [0], got, [n]);
      for (let i = 0; i < n; i++) if (!Object.is(got[i], want[i])) return false;
    }
  }
  return true;
}

/** True when `kernel` reproduces the CPU reference exactly on attention-style head splits and merges. */
export function permuteSelfCheck(kernel: PermuteKernel): boolean {
  for (const Ctor of [Float32Array, Float64Array]) {
    for (const [shape, perm] of [
      [
        [2, 5, 3, 2, 8],
        [2, 0, 3, 1, 4],
      ],
      [
        [3, 2, 2, 5, 8],
        [1, 3, 0, 2, 4],
      ],
      [
        [2, 4, 9, 4],
        [0, 2, 1, 3],
      ],
      [
        [16, 24],
        [0, 1],
      ],
    ]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = new Ctor(n).map((_, i) => i * 0.5 - 7);
      const want = new Ctor(n);
      const got = new Ctor(n).fill(NaN);
      cpuPermute(x, shape, perm, want);
      kernel(x, shape, perm, got);
      for (let i = 0; i < n; i++) if (!Object.is(got[i], want[i])) return false;
    }
  }
  return true;
}

/** True when `forward` and `backward` reproduce the CPU reference exactly on float32 rows. */
export function layerNormSelfCheck(forward: LayerNormKernel, backward: LayerNormVjpKernel): boolean {
  let seed = 24680;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const [rows, cols] of [
    [5, 7],
    [3, 64],
    [1, 1],
  ]) {
    const n = rows * cols;
    const x = new Float32Array(n).map(() => next() * 3 + 0.5);
    const gain = new Float32Array(cols).map(() => 1 + next());
    const bias = new Float32Array(cols).map(() => next());
    const g = new Float32Array(n).map(() => next());
    const run = (fw: LayerNormKernel, bw: LayerNormVjpKernel): Float32Array[] => {
      const out = [n, n, rows, n, cols, cols].map((k) => new Float32Array(k).fill(NaN));
      const [y, xhat, rstd, dx, dgain, dbias] = out;
      fw(x, rows, cols, 1e-5, gain, bias, y, xhat, rstd);
      bw(g, xhat, rstd, gain, rows, cols, dx, dgain, dbias);
      return out;
    };
    const want = run(cpuLayerNorm, cpuLayerNormVjp);
    const got = run(forward, backward);
    for (let k = 0; k < want.length; k++)
      for (let i = 0; i < want[k].length; i++) if (!Object.is(got[k][i], want[k][i])) return false;
  }
  return true;
}

/** True when the three kernels (softmax also as log-softmax) reproduce the CPU reference exactly on float32 rows. */
export function softmaxSelfCheck(
  softmax: SoftmaxKernel,
  causal: CausalSoftmaxKernel,
  vjp: SoftmaxVjpKernel,
): boolean {
  let seed = 13579;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const [rows, cols] of [
    [12, 6],
    [3, 1],
    [64, 16],
  ]) {
    const n = rows * cols;
    // Wide logits: large negative differences reach the exponential's clamp.
    const x = new Float32Array(n).map(() => next() * 60);
    const g = new Float32Array(n).map(() => next());
    const run = (sm: SoftmaxKernel, cs: CausalSoftmaxKernel, vj: SoftmaxVjpKernel): Float32Array[] => {
      const out = [n, n, n, n].map((k) => new Float32Array(k).fill(NaN));
      sm(x, rows, cols, out[0], false);
      cs(x, rows, cols, out[1]);
      vj(out[1], g, rows, cols, out[2]);
      sm(x, rows, cols, out[3], true);
      return out;
    };
    const want = run(cpuSoftmax, cpuCausalSoftmax, cpuSoftmaxVjp);
    const got = run(softmax, causal, vjp);
    for (let k = 0; k < want.length; k++)
      for (let i = 0; i < n; i++) if (!Object.is(got[k][i], want[k][i])) return false;
  }
  return true;
}

/**
 * True when `vjp` reproduces `cpuLogSoftmaxVjp` exactly on float32 rows of log-probabilities, with
 * some reaching the exponential's clamp, and row lengths below, at and above multiples of four.
 */
export function logSoftmaxVjpSelfCheck(vjp: LogSoftmaxVjpKernel): boolean {
  let seed = 31415;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const [rows, cols] of [
    [1, 1],
    [5, 7],
    [3, 8],
    [9, 89],
  ]) {
    const n = rows * cols;
    const y = new Float32Array(n).map(() => (next() - 1) * 60);
    const g = new Float32Array(n).map(() => next());
    const want = new Float32Array(n);
    const got = new Float32Array(n).fill(NaN);
    cpuLogSoftmaxVjp(y, g, rows, cols, want);
    vjp(y, g, rows, cols, got);
    for (let i = 0; i < n; i++) if (!Object.is(got[i], want[i])) return false;
  }
  return true;
}

/** True when `geluVjp`, given the exponentials `cpuGeluExp` saved, reproduces the CPU reference exactly. */
export function geluVjpSelfCheck(geluVjp: GeluVjpKernel): boolean {
  let seed = 11235;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const n of [1, 7, 300]) {
    // Out to ±30: both tails, where e is clamped tiny or grows huge.
    const x = new Float32Array(n).map(() => next() * (next() > 0 ? 4 : 30));
    const g = new Float32Array(n).map(() => next());
    const e = new Float64Array(n);
    cpuGeluExp(x, new Float32Array(n), e);
    const want = new Float32Array(n).fill(NaN);
    const got = new Float32Array(n).fill(NaN);
    cpuGeluVjp(x, g, want, e);
    geluVjp(x, g, got, e);
    for (let i = 0; i < n; i++) if (!Object.is(got[i], want[i])) return false;
  }
  return true;
}

/**
 * True when `geluExp` reproduces `cpuGeluExp` exactly — outputs and saved exponentials — on odd and
 * even lengths, out to both clamps of the exponential, and on NaN and ±Infinity.
 */
export function geluExpSelfCheck(geluExp: GeluExpKernel): boolean {
  let seed = 31415;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const n of [1, 8, 301]) {
    // Out to ±120: past both clamps (|y| up to ≈ 1.6·120³ ≫ 104).
    const x = new Float32Array(n).map(() => next() * (next() > 0 ? 4 : 120));
    if (n > 4) x.set([NaN, Infinity, -Infinity, -0], n - 4);
    const [want, wantE] = [new Float32Array(n), new Float64Array(n)];
    const [got, gotE] = [new Float32Array(n).fill(NaN), new Float64Array(n).fill(NaN)];
    cpuGeluExp(x, want, wantE);
    geluExp(x, got, gotE);
    for (let i = 0; i < n; i++)
      if (!Object.is(got[i], want[i]) || !Object.is(gotE[i], wantE[i])) return false;
  }
  return true;
}

/**
 * True when `tanh` reproduces the CPU reference's float32 tanh exactly on odd and even lengths: values
 * across every branch of fdlibm's tanh and expm1 (below 2^-28, around 1, out past 22), ±0, NaN and
 * ±Infinity.
 */
export function tanhSelfCheck(tanh: UnaryKernel): boolean {
  let seed = 27182;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const n of [1, 8, 301]) {
    const x = new Float32Array(n).map(() => next() * 2 ** (40 * next() - 30));
    if (n > 8) x.set([NaN, Infinity, -Infinity, -0, 0, 2 ** -28, 1, 22], n - 8);
    const want = new Float32Array(n);
    const got = new Float32Array(n).fill(NaN);
    cpuUnary('tanh')(x, want, 0);
    tanh(x, got, 0);
    for (let i = 0; i < n; i++) if (!Object.is(got[i], want[i])) return false;
  }
  return true;
}

/**
 * 'tanhVjp' equal to the CPU reference bit for bit on float32 lengths with tails (a multiple of 4 and
 * not, below and above one chunk), y across (−1, 1) and its edges (±1, ±0, subnormals, NaN), g of
 * every magnitude.
 */
export function tanhVjpSelfCheck(tanhVjp: TanhVjpKernel): boolean {
  let seed = 16180;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const n of [1, 67, 8195]) {
    const y = new Float32Array(n).map(() => Math.tanh(4 * next()));
    const g = new Float32Array(n).map(() => next() * 2 ** (60 * next()));
    if (n > 8) y.set([1, -1, 0, -0, 1e-45, NaN, 0.99999994, -3e-39], n - 8);
    if (n > 8) g.set([1, -0, Infinity, 3, -2, 1, 3e38, 1e-45], n - 8);
    const want = new Float32Array(n);
    const got = new Float32Array(n).fill(NaN);
    cpuTanhVjp(y, g, want);
    tanhVjp(y, g, got);
    for (let i = 0; i < n; i++) {
      if (Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]))) continue;
      return false;
    }
  }
  return true;
}
