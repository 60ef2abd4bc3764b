/**
 * Kernel registry tests. Every kernel name in the registry has test cases here; every registered
 * backend of it runs them against the CPU reference, and the CPU reference runs them against a naive
 * implementation written independently below (plain index arithmetic, no shared helpers). Outputs are
 * poisoned first (NaN, or a sentinel where the kernel must leave elements alone), so a kernel that
 * skips an element fails. The matmul kernels are also held to a naive triple loop on odd sizes
 * (1×1×1, 5×7×3, 17×33×9, …) with every transpose combination and broadcast batch offsets.
 */
import fc from 'fast-check';
import t from 'tap';
import '../../src/tensor/index.js'; // loads every kernel backend, as the tensor ops do
import {
  type BinaryOp,
  type KernelName,
  type KernelSignatures,
  type MatmulKernel,
  type MatmulSpec,
  type UnaryOp,
  kernelBackends,
  kernelFor,
  registeredKernels,
} from '../../src/kernels/registry.js';
import { F32_BACKEND } from '../../src/kernels/wasm-f32/index.js';
import type { DType, FloatArray } from '../../src/tensor/index.js';
import { awayFromZero, count, distinct, ints, normals, uniforms } from '../helpers/random.js';
import { FC_RUNS } from '../helpers/finite-diff.js';

const DTYPES: DType[] = ['float32', 'float64'];
/** A backend against the CPU reference (scaled error), as the backends' own self-checks promise. */
/** Backends that agree with the CPU reference within BACKEND_TOL even where it is exact (src/kernels/mode.ts). */
const APPROXIMATE = new Set([F32_BACKEND, 'blas']);
const BACKEND_TOL: Record<DType, number> = { float32: 1e-5, float64: 1e-12 };
/** The CPU reference against the naive float64 computation: float32 rounds once (≤ ½ ulp ≈ 6e-8). */
const REFERENCE_TOL: Record<DType, number> = { float32: 1.2e-7, float64: 1e-14 };

const alloc = (dtype: DType, n: number): FloatArray =>
  dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
const cast = (dtype: DType, xs: ArrayLike<number>): FloatArray =>
  dtype === 'float64' ? Float64Array.from(xs) : Float32Array.from(xs);
const poisoned = (dtype: DType, n: number): FloatArray => alloc(dtype, n).fill(NaN);

/** Row-major strides, computed here rather than imported. */
function strides(shape: readonly number[]): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Every multi-index of `shape` in row-major order. */
function* indices(shape: readonly number[]): Generator<number[]> {
  const n = count(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let f = 0; f < n; f++) {
    yield idx;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

const dot = (idx: readonly number[], s: readonly number[]) => idx.reduce((acc, v, i) => acc + v * s[i], 0);

/** Strides that read an operand of shape `own` as shape `out` (0 on broadcast and missing dims). */
function readStrides(own: readonly number[], out: readonly number[]): number[] {
  const s = strides(own);
  const lead = out.length - own.length;
  return out.map((d, i) => (i < lead || (own[i - lead] === 1 && d !== 1) ? 0 : s[i - lead]));
}

/** One call of a kernel and what it must produce. */
interface Trial<I> {
  label: string;
  /** Runs the implementation on fresh (poisoned) outputs and returns the output. */
  run: (impl: I) => FloatArray;
  /** The naive result, in float64. */
  want: Float64Array;
  /** Per-element error scale (e.g. Σ|a||b| for matmul); defaults to max(|want|, 1). */
  scale?: Float64Array;
  /** Data movement, selection and sign ops must match bit for bit. */
  exact: boolean;
}

type Cases = { [K in KernelName]: (dtype: DType, seed: number) => Trial<KernelSignatures[K]>[] };

/** An output shape and operand shapes that broadcast to it, drawn from a seed. */
function broadcastShapes(seed: number, operands: number): { out: number[]; own: number[][] } {
  const rank = ints(1, 5, seed, 'rank')[0];
  const out = Array.from(ints(rank, 4, seed, 'dims'), (d) => d + 1);
  const own = Array.from({ length: operands }, (_, k) => {
    const drop = ints(1, rank + 1, seed, 'drop', k)[0];
    const ones = ints(rank, 3, seed, 'ones', k);
    return out.slice(drop).map((d, i) => (ones[i + drop] === 0 ? 1 : d));
  });
  return { out, own };
}

const BINARY: Record<BinaryOp, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
  maximum: (x, y) => Math.max(x, y),
  greaterEqual: (x, y) => (x >= y ? 1 : 0),
  equal: (x, y) => (x === y ? 1 : 0),
};
const EXACT_BINARY = new Set<BinaryOp>(['maximum', 'greaterEqual', 'equal']);

const GELU_C = Math.sqrt(2 / Math.PI);
/** The largest finite float32. */
const F32_MAX = 3.4028234663852886e38;

const UNARY: Record<
  UnaryOp,
  { f: (x: number, p: number) => number; domain: 'any' | 'positive'; exact: boolean }
> = {
  neg: { f: (x) => -x, domain: 'any', exact: true },
  exp: { f: (x) => Math.exp(x), domain: 'any', exact: false },
  log: { f: (x) => Math.log(x), domain: 'positive', exact: false },
  sqrt: { f: (x) => Math.sqrt(x), domain: 'positive', exact: false },
  tanh: { f: (x) => Math.tanh(x), domain: 'any', exact: false },
  sigmoid: { f: (x) => 1 / (1 + Math.exp(-x)), domain: 'any', exact: false },
  relu: { f: (x) => (x > 0 ? x : 0), domain: 'any', exact: true },
  step: { f: (x) => (x > 0 ? 1 : 0), domain: 'any', exact: true },
  pow: { f: (x, p) => Math.pow(x, p), domain: 'positive', exact: false },
  abs: { f: (x) => Math.abs(x), domain: 'any', exact: true },
  sign: { f: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), domain: 'any', exact: true },
  gelu: {
    f: (x) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x ** 3))),
    domain: 'any',
    exact: false,
  },
  // d/dx of ½x(1 + tanh u) with sech² written through cosh (independent of the kernel's 1 − t²).
  geluGrad: {
    f: (x) => {
      const u = GELU_C * (x + 0.044715 * x ** 3);
      return 0.5 * (1 + Math.tanh(u)) + (0.5 * x * GELU_C * (1 + 0.134145 * x * x)) / Math.cosh(u) ** 2;
    },
    domain: 'any',
    exact: false,
  },
};

/** Values rounded to the dtype, so the naive float64 computation sees exactly the kernel's inputs. */
const inputs = (dtype: DType, xs: ArrayLike<number>): FloatArray => cast(dtype, xs);

function naiveMatmul(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  spec: MatmulSpec,
): { want: Float64Array; scale: Float64Array } {
  const { batch, m, n, k, transA, transB, aOffsets, bOffsets } = spec;
  const want = new Float64Array(batch * m * n);
  const scale = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        let abs = 0;
        for (let p = 0; p < k; p++) {
          const x = a[aOffsets[t] + (transA ? p * m + i : i * k + p)];
          const y = b[bOffsets[t] + (transB ? j * k + p : p * n + j)];
          s += x * y;
          abs += Math.abs(x * y);
        }
        want[t * m * n + i * n + j] = s;
        scale[t * m * n + i * n + j] = Math.max(abs, 1e-300);
      }
    }
  }
  return { want, scale };
}

/**
 * A batched matmul trial: `aBatch`/`bBatch` items of stored matrices, combined through offsets that
 * repeat (broadcast) as NumPy batch broadcasting would.
 */
function matmulTrial(
  dtype: DType,
  seed: number,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  aItems = 1,
  bItems = 1,
): Trial<MatmulKernel> {
  const batch = Math.max(aItems, bItems);
  const a = inputs(dtype, normals(aItems * m * k, seed, 'A', m, n, k));
  const b = inputs(dtype, normals(bItems * k * n, seed, 'B', m, n, k));
  const spec: MatmulSpec = {
    batch,
    m,
    n,
    k,
    transA,
    transB,
    aOffsets: Int32Array.from({ length: batch }, (_, t) => (aItems === 1 ? 0 : t) * m * k),
    bOffsets: Int32Array.from({ length: batch }, (_, t) => (bItems === 1 ? 0 : t) * k * n),
  };
  const { want, scale } = naiveMatmul(a, b, spec);
  return {
    label: `${m}×${n}×${k} transA=${transA} transB=${transB} batch ${aItems}/${bItems}`,
    run: (impl) => {
      const out = poisoned(dtype, batch * m * n);
      impl(a, b, out, spec);
      return out;
    },
    want,
    scale,
    exact: false,
  };
}

/** A trial of a (y, g, rows, cols, out) kernel (the softmax VJPs) against `want` on its `scale`. */
function rowVjpTrial(
  name: 'softmaxVjp' | 'logSoftmaxVjp',
  dtype: DType,
  y: FloatArray,
  g: FloatArray,
  rows: number,
  cols: number,
  want: Float64Array,
  scale: Float64Array,
): Trial<KernelSignatures['softmaxVjp']> {
  return {
    label: `${name} ${rows}×${cols}`,
    run: (impl) => {
      const o = poisoned(dtype, rows * cols);
      impl(y, g, rows, cols, o);
      return o;
    },
    want,
    scale,
    exact: false,
  };
}

/**
 * The optimizers' per-element passes work on float32 vectors only: both dtype rounds run the same
 * float32 trials. Lengths reach past the wasm backends' size thresholds (64, 256 elements). Each
 * reference below is the pass's formula in float64, rounded once with Math.fround.
 */
function passVectors(seed: number, name: string, k: number): { n: number; v: Float32Array[] } {
  const n = ints(1, 600, seed, `${name}-n`)[0] + 1;
  const v = Array.from({ length: k }, (_, j) => Float32Array.from(normals(n, seed, `${name}-${j}`)));
  return { n, v };
}
const positive = (v: Float32Array): Float32Array => v.map((x) => Math.abs(x) + 1e-3);

const CASES: Cases = {
  normalize: (dtype, seed) => {
    const [rows, cols] = Array.from(ints(2, 9, seed, 'normalize-shape'), (d) => d + 1);
    const x = inputs(
      dtype,
      normals(rows * cols, seed, 'normalize').map((v) => 3 * v + 1),
    );
    const eps = 1e-5;
    const want = new Float64Array(rows * cols + rows);
    // Errors are measured against max(|x̂|, 1) plus, for x̂, |mean|·rstd: a float32 mean's own rounding
    // moves x̂ by up to ½ulp(mean)·rstd, which no float32 kernel avoids (a row whose mean dwarfs its
    // spread, as wasm-f32/layer-norm.ts states).
    const scale = new Float64Array(rows * cols + rows);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      const mu = row.reduce((a, b) => a + b, 0) / cols;
      const variance = row.reduce((a, b) => a + (b - mu) * (b - mu), 0) / cols;
      const rstd = 1 / Math.sqrt(variance + eps);
      row.forEach((v, j) => {
        want[r * cols + j] = (v - mu) * rstd;
        scale[r * cols + j] = Math.max(Math.abs(want[r * cols + j]), 1) + Math.abs(mu) * rstd;
      });
      want[rows * cols + r] = rstd;
      scale[rows * cols + r] = Math.max(rstd, 1);
    }
    return [
      {
        label: `normalize ${rows}×${cols}`,
        run: (impl: KernelSignatures['normalize']) => {
          const xhat = poisoned(dtype, rows * cols);
          const rstd = poisoned(dtype, rows);
          impl(x, rows, cols, eps, xhat, rstd);
          const both = poisoned(dtype, rows * cols + rows);
          both.set(xhat);
          both.set(rstd, rows * cols);
          return both;
        },
        want,
        scale,
        exact: false,
      },
    ];
  },
  softmax: (dtype, seed) => {
    const [rows, cols] = Array.from(ints(2, 9, seed, 'softmax-shape'), (d) => d + 1);
    const x = inputs(
      dtype,
      normals(rows * cols, seed, 'softmax').map((v) => 4 * v),
    );
    return [false, true].map((log) => {
      const want = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        let z = 0;
        for (let j = 0; j < cols; j++) z += Math.exp(x[r * cols + j]);
        for (let j = 0; j < cols; j++) {
          const v = x[r * cols + j];
          want[r * cols + j] = log ? v - Math.log(z) : Math.exp(v) / z;
        }
      }
      return {
        label: `${log ? 'log-' : ''}softmax ${rows}×${cols}`,
        run: (impl: KernelSignatures['softmax']) => {
          const o = poisoned(dtype, rows * cols);
          impl(x, rows, cols, o, log);
          return o;
        },
        want,
        exact: false,
      };
    });
  },
  layerNorm: (dtype, seed) => {
    const [rows, cols] = Array.from(ints(2, 9, seed, 'ln-shape'), (d) => d + 1);
    const x = inputs(
      dtype,
      normals(rows * cols, seed, 'ln-x').map((v) => 3 * v + 1),
    );
    const gain = inputs(dtype, normals(cols, seed, 'ln-gain'));
    const bias = inputs(dtype, normals(cols, seed, 'ln-bias'));
    const eps = 1e-5;
    const n = rows * cols;
    const want = new Float64Array(2 * n + rows);
    // The float32 mean's rounding moves x̂ by up to ½ulp(mean)·rstd (see normalize): each row's
    // |mean|·rstd joins the scales below.
    const shift = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      const mu = row.reduce((a, b) => a + b, 0) / cols;
      const rstd = 1 / Math.sqrt(row.reduce((a, b) => a + (b - mu) * (b - mu), 0) / cols + eps);
      row.forEach((v, j) => {
        want[n + r * cols + j] = (v - mu) * rstd;
        want[r * cols + j] = (v - mu) * rstd * gain[j] + bias[j];
      });
      want[2 * n + r] = rstd;
      shift[r] = Math.abs(mu) * rstd;
    }
    return [
      {
        label: `layerNorm ${rows}×${cols}`,
        run: (impl: KernelSignatures['layerNorm']) => {
          const [y, xhat, rstd] = [poisoned(dtype, n), poisoned(dtype, n), poisoned(dtype, rows)];
          impl(x, rows, cols, eps, gain, bias, y, xhat, rstd);
          const all = poisoned(dtype, 2 * n + rows);
          all.set(y);
          all.set(xhat, n);
          all.set(rstd, 2 * n);
          return all;
        },
        want,
        // y sums two rounded terms: scale by |x̂·gain| + |bias|, plus the mean's shift times |gain|.
        scale: Float64Array.from(want, (w, k) =>
          k < n
            ? Math.max(1, Math.abs(want[n + k] * gain[k % cols]) + Math.abs(bias[k % cols])) +
              shift[Math.floor(k / cols)] * Math.abs(gain[k % cols])
            : k < 2 * n
              ? Math.max(1, Math.abs(w)) + shift[Math.floor((k - n) / cols)]
              : Math.max(1, Math.abs(w)),
        ),
        exact: false,
      },
    ];
  },
  layerNormVjp: (dtype, seed) => {
    const [rows, cols] = Array.from(ints(2, 9, seed, 'lnv-shape'), (d) => d + 1);
    const n = rows * cols;
    const g = inputs(dtype, normals(n, seed, 'lnv-g'));
    const xhat = inputs(dtype, normals(n, seed, 'lnv-xhat'));
    const rstd = inputs(dtype, uniforms(rows, 0.2, 3, seed, 'lnv-rstd'));
    const gain = inputs(dtype, normals(cols, seed, 'lnv-gain'));
    const want = new Float64Array(n + 2 * cols);
    const scale = new Float64Array(n + 2 * cols);
    for (let r = 0; r < rows; r++) {
      let mg = 0;
      let mgx = 0;
      let abs = 0;
      for (let j = 0; j < cols; j++) {
        const k = r * cols + j;
        mg += (g[k] * gain[j]) / cols;
        mgx += (g[k] * gain[j] * xhat[k]) / cols;
        abs += Math.abs(g[k] * gain[j]) * (1 + Math.abs(xhat[k]));
        want[n + j] += g[k] * xhat[k];
        want[n + cols + j] += g[k];
        scale[n + j] += Math.abs(g[k] * xhat[k]);
        scale[n + cols + j] += Math.abs(g[k]);
      }
      for (let j = 0; j < cols; j++) {
        const k = r * cols + j;
        want[k] = rstd[r] * (g[k] * gain[j] - mg - xhat[k] * mgx);
        scale[k] = rstd[r] * (Math.abs(g[k] * gain[j]) + (abs / cols) * (1 + Math.abs(xhat[k])));
      }
    }
    return [
      {
        label: `layerNormVjp ${rows}×${cols}`,
        run: (impl: KernelSignatures['layerNormVjp']) => {
          const [dx, dgain, dbias] = [poisoned(dtype, n), poisoned(dtype, cols), poisoned(dtype, cols)];
          impl(g, xhat, rstd, gain, rows, cols, dx, dgain, dbias);
          const all = poisoned(dtype, n + 2 * cols);
          all.set(dx);
          all.set(dgain, n);
          all.set(dbias, n + cols);
          return all;
        },
        want,
        scale: scale.map((v) => Math.max(v, 1)),
        exact: false,
      },
    ];
  },
  causalSoftmax: (dtype, seed) => {
    // Row counts that are not whole [T, T] blocks are allowed: the block position is row mod T.
    const [blocks, tm1, extra] = ints(3, 5, seed, 'causal-shape');
    const cols = tm1 + 1;
    const rows = blocks * cols + (extra % cols);
    const x = inputs(
      dtype,
      normals(rows * cols, seed, 'causal').map((v) => 4 * v),
    );
    const want = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const i = r % cols;
      let z = 0;
      for (let j = 0; j <= i; j++) z += Math.exp(x[r * cols + j]);
      for (let j = 0; j < cols; j++) want[r * cols + j] = j <= i ? Math.exp(x[r * cols + j]) / z : 0;
    }
    return [
      {
        label: `causalSoftmax ${rows}×${cols}`,
        run: (impl: KernelSignatures['causalSoftmax']) => {
          const o = poisoned(dtype, rows * cols);
          impl(x, rows, cols, o);
          return o;
        },
        want,
        exact: false,
      },
    ];
  },
  softmaxVjp: (dtype, seed) => {
    const [rows, cols] = Array.from(ints(2, 9, seed, 'svjp-shape'), (d) => d + 1);
    const y = inputs(dtype, uniforms(rows * cols, 0, 1, seed, 'svjp-y'));
    const g = inputs(dtype, normals(rows * cols, seed, 'svjp-g'));
    const want = new Float64Array(rows * cols);
    const scale = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      let abs = 0;
      for (let j = 0; j < cols; j++) {
        dot += g[r * cols + j] * y[r * cols + j];
        abs += Math.abs(g[r * cols + j] * y[r * cols + j]);
      }
      for (let j = 0; j < cols; j++) {
        const k = r * cols + j;
        want[k] = y[k] * g[k] - y[k] * dot;
        scale[k] = Math.max(1, Math.abs(y[k]) * (Math.abs(g[k]) + abs));
      }
    }
    return [rowVjpTrial('softmaxVjp', dtype, y, g, rows, cols, want, scale)];
  },
  logSoftmaxVjp: (dtype, seed) => {
    const [rows, cols] = Array.from(ints(2, 9, seed, 'lsvjp-shape'), (d) => d + 1);
    const y = inputs(dtype, uniforms(rows * cols, -8, 0, seed, 'lsvjp-y'));
    const g = inputs(dtype, normals(rows * cols, seed, 'lsvjp-g'));
    const s = new Float64Array(rows);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) s[r] += g[r * cols + j];
    const want = new Float64Array(rows * cols);
    // float32 rounds four times (row sum, exp, product, difference), each ≤ ½ ulp of a magnitude
    // within |g| + exp(y)·Σ|g|: twice that bound as the scale keeps 2 ulp of it inside the tolerance.
    const scale = new Float64Array(rows * cols);
    for (let k = 0; k < rows * cols; k++) {
      const r = Math.floor(k / cols);
      let abs = 0;
      for (let j = 0; j < cols; j++) abs += Math.abs(g[r * cols + j]);
      want[k] = g[k] - Math.exp(y[k]) * s[r];
      scale[k] = Math.max(1, 2 * (Math.abs(g[k]) + Math.exp(y[k]) * abs));
    }
    return [rowVjpTrial('logSoftmaxVjp', dtype, y, g, rows, cols, want, scale)];
  },
  geluSecond: (dtype, seed) => {
    const n = 1 + ints(1, 40, seed, 'n')[0];
    const x = inputs(
      dtype,
      normals(n, seed, 'gelu2-x').map((v) => 3 * v),
    );
    // d/dx of GELU′ = ½(1 + tanh u) + ½x·sech²u·u′, with sech² through cosh. The three terms can
    // cancel, so errors are scaled by the sum of their magnitudes (at least 1).
    const terms = Array.from(x, (v) => {
      const u = GELU_C * (v + 0.044715 * v ** 3);
      const du = GELU_C * (1 + 0.134145 * v * v);
      const sech2 = 1 / Math.cosh(u) ** 2;
      return [sech2 * du, -v * sech2 * Math.tanh(u) * du * du, 0.5 * v * sech2 * GELU_C * 0.26829 * v];
    });
    const want = Float64Array.from(terms, ([a, b, c]) => a + b + c);
    const scale = Float64Array.from(terms, ([a, b, c]) =>
      Math.max(1, Math.abs(a) + Math.abs(b) + Math.abs(c)),
    );
    return [
      {
        label: `geluSecond n=${n}`,
        run: (impl: KernelSignatures['geluSecond']) => {
          const o = poisoned(dtype, n);
          impl(x, o, 0);
          return o;
        },
        want,
        scale,
        exact: false,
      },
    ];
  },
  tanhVjp: (dtype, seed) => {
    const n = 1 + ints(1, 200, seed, 'n')[0];
    const y = inputs(
      dtype,
      normals(n, seed, 'tanh-y').map((v) => Math.tanh(2 * v)),
    );
    const g = inputs(dtype, normals(n, seed, 'tanh-g'));
    const f = dtype === 'float32' ? Math.fround : (v: number) => v;
    return [
      {
        label: `tanhVjp n=${n}`,
        run: (impl: KernelSignatures['tanhVjp']) => {
          const o = poisoned(dtype, n);
          impl(y, g, o);
          return o;
        },
        // g·(1 − y·y), each operation rounded to the dtype: the primitive ops' bits.
        want: Float64Array.from(y, (v, i) => f(g[i] * f(1 - f(v * v)))),
        exact: true,
      },
    ];
  },
  geluVjp: (dtype, seed) => {
    const n = 1 + ints(1, 40, seed, 'n')[0];
    const x = inputs(
      dtype,
      normals(n, seed, 'gelu-x').map((v) => 3 * v),
    );
    const g = inputs(dtype, normals(n, seed, 'gelu-g'));
    return [
      {
        label: `geluVjp n=${n}`,
        run: (impl: KernelSignatures['geluVjp']) => {
          const o = poisoned(dtype, n);
          impl(x, g, o);
          return o;
        },
        want: Float64Array.from(x, (v, i) => g[i] * UNARY.geluGrad.f(v, 0)),
        exact: false,
      },
      {
        // With the exponentials the forward saved (here from Math.exp, independently of the kernels).
        label: `geluVjp with saved exponentials n=${n}`,
        run: (impl: KernelSignatures['geluVjp']) => {
          const o = poisoned(dtype, n);
          const e = Float64Array.from(x, (v) => Math.exp(-2 * GELU_C * (v + 0.044715 * v ** 3)));
          impl(x, g, o, e);
          return o;
        },
        want: Float64Array.from(x, (v, i) => g[i] * UNARY.geluGrad.f(v, 0)),
        exact: false,
      },
    ];
  },
  geluExp: (dtype, seed) => {
    // Random values, then the far tails every time: e overflows float32 below x ≈ −10.07.
    const tails = [-40, -10.5, -10, 10, 40];
    const random = normals(1 + ints(1, 40, seed, 'n')[0], seed, 'gelue-x').map((v) => 3 * v);
    const x = inputs(dtype, [...random, ...tails]);
    const n = x.length;
    // Output and exponentials side by side: [GELU(x)..., e...].
    const want = new Float64Array(2 * n);
    const scale = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      const v = x[i];
      const u = GELU_C * (v + 0.044715 * v ** 3);
      want[i] = 0.5 * v * (1 + Math.tanh(u));
      want[n + i] = Math.exp(-2 * u);
      scale[i] = Math.max(1, Math.abs(want[i]));
      // e is float64 in both dtypes: held to its own magnitude (relative error), down to 1e-30, where
      // 1 + e is 1 in float64 and only e's being tiny matters (float32's exponential clamps far out).
      // exp(−2u) turns an absolute error δ in u (rounding of u's own, differently ordered,
      // arithmetic) into a relative error 2δ: the tolerance grows with exp's condition number 1 + 2|u|.
      scale[n + i] = Math.max(Math.abs(want[n + i]), 1e-30) * (1 + 2 * Math.abs(u));
    }
    // Far below zero, e outgrows the dtype's range (float32 below x ≈ −10.07, float64 below ≈ −21).
    // There it only has to be at least the dtype's largest value: in float32, σ = 1/(1 + e) < 2⁻¹²⁸
    // and GELU(x) = x·σ are then subnormal either way (float32's exponential clamps its argument, so
    // its e stops growing); float64's e becomes Infinity. Both sides saturate at that largest value.
    const largest = dtype === 'float32' ? F32_MAX : Number.MAX_VALUE;
    const saturate = (v: number): number => Math.min(v, largest);
    for (let i = 0; i < n; i++) want[n + i] = saturate(want[n + i]);
    return [
      {
        label: `geluExp n=${n}`,
        run: (impl: KernelSignatures['geluExp']) => {
          const o = poisoned(dtype, n);
          const e = new Float64Array(n).fill(NaN);
          impl(x, o, e);
          const both = new Float64Array(2 * n);
          both.set(o);
          both.set(e.map(saturate), n);
          return both;
        },
        want,
        scale,
        exact: false,
      },
    ];
  },
  binary: (dtype, seed) => {
    const { out, own } = broadcastShapes(seed, 2);
    const [sa, sb] = own;
    return (Object.keys(BINARY) as BinaryOp[]).flatMap((op) => {
      const a = inputs(dtype, normals(count(sa), seed, 'a', op));
      // Ties for the comparisons: b repeats some of a's values where shapes allow.
      const bRaw =
        op === 'div' ? awayFromZero(count(sb), 0.5, 2, seed, 'b') : normals(count(sb), seed, 'b', op);
      if (op === 'equal' || op === 'greaterEqual' || op === 'maximum')
        for (let i = 0; i < bRaw.length && i < a.length; i += 2) bRaw[i] = a[i];
      const b = inputs(dtype, bRaw);
      const as = readStrides(sa, out);
      const bs = readStrides(sb, out);
      const want = new Float64Array(count(out));
      let f = 0;
      for (const idx of indices(out)) want[f++] = BINARY[op](a[dot(idx, as)], b[dot(idx, bs)]);
      const trials: Trial<KernelSignatures['binary']>[] = [
        {
          label: `${op} [${sa}] with [${sb}] → [${out}]`,
          run: (impl) => {
            const o = poisoned(dtype, want.length);
            impl(op)(a, as, b, bs, o, out);
            return o;
          },
          want,
          exact: EXACT_BINARY.has(op),
        },
      ];
      if (sa.join() === sb.join()) {
        // The flat same-shape call the ops use: strides [1], [1], shape [n].
        trials.push({
          label: `${op} flat [${sa}]`,
          run: (impl) => {
            const o = poisoned(dtype, a.length);
            impl(op)(a, [1], b, [1], o, [a.length]);
            return o;
          },
          want: Float64Array.from(a, (x, i) => BINARY[op](x, b[i])),
          exact: EXACT_BINARY.has(op),
        });
      }
      return trials;
    });
  },
  unary: (dtype, seed) => {
    const n = 1 + ints(1, 40, seed, 'n')[0];
    return (Object.keys(UNARY) as UnaryOp[]).flatMap((op) => {
      const spec = UNARY[op];
      const params = op === 'pow' ? [2.5, -1.5, 3, 0] : [0];
      return params.map((p) => {
        const raw =
          spec.domain === 'positive' ? uniforms(n, 0.1, 5, seed, op) : normals(n, seed, op).map((v) => 3 * v);
        const x = inputs(dtype, raw);
        return {
          label: `${op}${op === 'pow' ? ` p=${p}` : ''} n=${n}`,
          run: (impl: KernelSignatures['unary']) => {
            const o = poisoned(dtype, n);
            impl(op)(x, o, p);
            return o;
          },
          want: Float64Array.from(x, (v) => spec.f(v, p)),
          exact: spec.exact,
        };
      });
    });
  },
  where: (dtype, seed) => {
    const { out, own } = broadcastShapes(seed, 3);
    const [sc, sa, sb] = own;
    // Any nonzero mask value means true: include −2 and 0.5.
    const choices = [0, 1, -2, 0.5];
    const cond = inputs(
      dtype,
      Array.from(ints(count(sc), 4, seed, 'c'), (i) => choices[i]),
    );
    const a = inputs(dtype, normals(count(sa), seed, 'a'));
    const b = inputs(dtype, normals(count(sb), seed, 'b'));
    const [cs, as, bs] = [readStrides(sc, out), readStrides(sa, out), readStrides(sb, out)];
    const want = new Float64Array(count(out));
    let f = 0;
    for (const idx of indices(out)) want[f++] = cond[dot(idx, cs)] !== 0 ? a[dot(idx, as)] : b[dot(idx, bs)];
    return [
      {
        label: `where [${sc}] [${sa}] [${sb}] → [${out}]`,
        run: (impl) => {
          const o = poisoned(dtype, want.length);
          impl(cond, cs, a, as, b, bs, o, out);
          return o;
        },
        want,
        exact: true,
      },
    ];
  },
  sum: (dtype, seed) => reduceTrials('sum', dtype, seed),
  max: (dtype, seed) => reduceTrials('max', dtype, seed),
  matmul: (dtype, seed) => {
    const [m, n, k] = Array.from(ints(3, 9, seed, 'mnk'), (d) => d + 1);
    const [ai, bi] = Array.from(ints(2, 3, seed, 'items'), (d) => d + 1);
    const items = ai === bi || ai === 1 || bi === 1 ? [ai, bi] : [ai, 1];
    return [false, true].flatMap((tA) =>
      [false, true].map((tB) => matmulTrial(dtype, seed, m, n, k, tA, tB, items[0], items[1])),
    );
  },
  addInto: (_dtype, seed) => {
    const {
      n,
      v: [d, x],
    } = passVectors(seed, 'addInto', 2);
    return [
      {
        label: `addInto ${n}`,
        run: (impl) => {
          const out = Float32Array.from(d);
          impl(out, x);
          return out;
        },
        want: Float64Array.from(d, (di, i) => Math.fround(di + x[i])),
        exact: true,
      },
    ];
  },
  scaleInto: (_dtype, seed) => {
    const {
      n,
      v: [x],
    } = passVectors(seed, 'scaleInto', 1);
    const f = -0.37;
    return [
      {
        label: `scaleInto ${n}`,
        run: (impl) => {
          const out = new Float32Array(n).fill(NaN);
          impl(out, x, f);
          return out;
        },
        want: Float64Array.from(x, (xi) => Math.fround(f * xi)),
        exact: true,
      },
    ];
  },
  addScaledInto: (_dtype, seed) => {
    const {
      n,
      v: [g, p],
    } = passVectors(seed, 'addScaledInto', 2);
    const wd = 0.1;
    return [
      {
        label: `addScaledInto ${n}`,
        run: (impl) => {
          const out = new Float32Array(n).fill(NaN);
          impl(out, g, p, wd);
          return out;
        },
        want: Float64Array.from(g, (gi, i) => Math.fround(gi + wd * p[i])),
        exact: true,
      },
    ];
  },
  sumOfSquares: (_dtype, seed) => {
    const {
      n,
      v: [x],
    } = passVectors(seed, 'sumOfSquares', 1);
    // Each square of a float32 is exact in float64; the sum in any order is within n·2⁻⁵³ of Σ.
    let sum = 0;
    for (const xi of x) sum += xi * xi;
    return [
      {
        label: `sumOfSquares ${n}`,
        run: (impl) => Float64Array.of(impl(x)),
        want: Float64Array.of(sum),
        scale: Float64Array.of((sum * n) / 64),
        exact: false,
      },
    ];
  },
  allFinite: (_dtype, seed) => {
    const {
      n,
      v: [x],
    } = passVectors(seed, 'allFinite', 1);
    // A third of the trials put one non-finite value somewhere.
    const at = ints(1, 3 * n, seed, 'allFinite-at')[0];
    if (at < n) x[at] = [Infinity, -Infinity, NaN][at % 3];
    return [
      {
        label: `allFinite ${n}`,
        run: (impl) => Float64Array.of(impl(x) ? 1 : 0),
        want: Float64Array.of(x.every((v) => Number.isFinite(v)) ? 1 : 0),
        exact: true,
      },
    ];
  },
  emaInto: (_dtype, seed) => {
    const {
      n,
      v: [a, x],
    } = passVectors(seed, 'emaInto', 2);
    const [b, c] = [0.99, 1 - 0.99];
    return [
      {
        label: `emaInto ${n}`,
        run: (impl) => {
          const out = new Float32Array(n).fill(NaN);
          impl(out, a, x, b, c);
          return out;
        },
        want: Float64Array.from(a, (ai, i) => Math.fround(b * ai + c * x[i])),
        exact: true,
      },
    ];
  },
  sophiaGClip: (_dtype, seed) => {
    const {
      n,
      v: [m, h0],
    } = passVectors(seed, 'sophiaGClip', 2);
    const h = positive(h0);
    const [scale, eps] = [0.8, 1e-15];
    const u = Array.from(m, (mi, i) => Math.abs(mi) / (scale * h[i] + eps));
    return [
      {
        label: `sophiaGClip ${n} (out, then the unclipped count)`,
        run: (impl) => {
          const out = new Float32Array(n + 1).fill(NaN);
          out[n] = impl(out.subarray(0, n), m, h, scale, eps);
          return out;
        },
        want: Float64Array.from({ length: n + 1 }, (_, i) =>
          i < n ? Math.fround(Math.sign(m[i]) * Math.min(u[i], 1)) : u.filter((r) => r < 1).length,
        ),
        exact: true,
      },
    ];
  },
  sophiaHClip: (_dtype, seed) => {
    const {
      n,
      v: [m, h0],
    } = passVectors(seed, 'sophiaHClip', 2);
    const h = positive(h0);
    const [bc1, gamma, eps, clip] = [0.3, 0.01, 1e-12, 1];
    const u = Array.from(m, (mi, i) => mi / bc1 / Math.max(gamma * h[i], eps));
    return [
      {
        label: `sophiaHClip ${n} (out, then the unclipped count)`,
        run: (impl) => {
          const out = new Float32Array(n + 1).fill(NaN);
          out[n] = impl(out.subarray(0, n), m, h, bc1, gamma, eps, clip);
          return out;
        },
        want: Float64Array.from({ length: n + 1 }, (_, i) =>
          i < n
            ? Math.fround(Math.min(Math.max(u[i], -clip), clip))
            : u.filter((x) => Math.abs(x) < clip).length,
        ),
        exact: true,
      },
    ];
  },
  adamMoments: (_dtype, seed) => {
    const {
      n,
      v: [g, mu0, nu00],
    } = passVectors(seed, 'adamMoments', 3);
    const nu0 = positive(nu00);
    const c = { b1: 0.9, b2: 0.999, bc1: 1 - 0.9 ** 3, bc2: 1 - 0.999 ** 3, eps: 1e-8, epsRoot: 0 };
    const mu = Float64Array.from(g, (gi, i) => Math.fround(c.b1 * mu0[i] + (1 - c.b1) * gi));
    const nu = Float64Array.from(g, (gi, i) => Math.fround(c.b2 * nu0[i] + (1 - c.b2) * gi * gi));
    const out = mu.map((m, i) => Math.fround(m / c.bc1 / (Math.sqrt(nu[i] / c.bc2 + c.epsRoot) + c.eps)));
    return [
      {
        label: `adamMoments ${n} (mu, nu, update)`,
        run: (impl) => {
          const r = impl(g, mu0, nu0, c);
          return Float32Array.from([...r.mu, ...r.nu, ...r.out]);
        },
        want: Float64Array.from([...mu, ...nu, ...out]),
        exact: true,
      },
    ];
  },
  affine: (dtype, seed) => {
    const [rows, n, k] = Array.from(ints(3, 9, seed, 'affine-shape'), (d) => d + 1);
    const x = inputs(dtype, normals(rows * k, seed, 'affine-x'));
    const w = inputs(dtype, normals(n * k, seed, 'affine-w'));
    const bias = inputs(dtype, normals(n, seed, 'affine-b'));
    // x·wᵀ + bias in float64, on the scale Σ|x·w| + |bias|.
    const { want, scale } = naiveMatmul(x, w, {
      batch: 1,
      m: rows,
      n,
      k,
      transA: false,
      transB: true,
      aOffsets: new Int32Array(1),
      bOffsets: new Int32Array(1),
    });
    for (let i = 0; i < want.length; i++) {
      want[i] += bias[i % n];
      scale[i] += Math.abs(bias[i % n]);
    }
    return [
      {
        label: `affine ${rows}×${n}×${k}`,
        run: (impl) => {
          const out = poisoned(dtype, rows * n);
          impl(x, w, bias, out, rows, k, n);
          return out;
        },
        want,
        scale,
        exact: false,
      },
    ];
  },
  permute: (dtype, seed) => {
    const rank = ints(1, 5, seed, 'rank')[0];
    const shape = Array.from(ints(rank, 4, seed, 'dims'), (d) => d + 1);
    const perm = Array.from(distinct(rank, 1, seed, 'perm'))
      .map((v, i) => [v, i])
      .sort((x, y) => x[0] - y[0])
      .map(([, i]) => i);
    const x = inputs(dtype, normals(count(shape), seed, 'x'));
    const outShape = perm.map((p) => shape[p]);
    const xs = strides(shape);
    const want = new Float64Array(x.length);
    let f = 0;
    for (const j of indices(outShape)) {
      const src = new Array<number>(rank);
      perm.forEach((p, i) => (src[p] = j[i]));
      want[f++] = x[dot(src, xs)];
    }
    return [
      {
        label: `permute [${shape}] by [${perm}]`,
        run: (impl) => {
          const o = poisoned(dtype, x.length);
          impl(x, shape, perm, o);
          return o;
        },
        want,
        exact: true,
      },
    ];
  },
  gather: (dtype, seed) => {
    const rows = 1 + ints(1, 6, seed, 'rows')[0];
    const width = 1 + ints(1, 5, seed, 'width')[0];
    const idx = ints(1 + ints(1, 9, seed, 'n')[0], rows, seed, 'idx');
    const table = inputs(dtype, normals(rows * width, seed, 'table'));
    const want = new Float64Array(idx.length * width);
    for (let i = 0; i < idx.length; i++)
      for (let j = 0; j < width; j++) want[i * width + j] = table[idx[i] * width + j];
    return [
      {
        label: `gather ${idx.length} of ${rows}×${width}`,
        run: (impl) => {
          const o = poisoned(dtype, want.length);
          impl(table, width, idx, o);
          return o;
        },
        want,
        exact: true,
      },
    ];
  },
  scatterAdd: (dtype, seed) => {
    const rows = 1 + ints(1, 6, seed, 'rows')[0];
    const width = 1 + ints(1, 5, seed, 'width')[0];
    const idx = ints(1 + ints(1, 9, seed, 'n')[0], rows, seed, 'idx'); // repeats accumulate
    const src = inputs(dtype, normals(idx.length * width, seed, 'src'));
    const want = new Float64Array(rows * width);
    // Float32 accumulates in float32: n terms err by up to (n − 1)·u·Σ|terms|, the scale used here.
    const absSum = new Float64Array(rows * width);
    const terms = new Float64Array(rows * width);
    for (let i = 0; i < idx.length; i++) {
      for (let j = 0; j < width; j++) {
        want[idx[i] * width + j] += src[i * width + j];
        absSum[idx[i] * width + j] += Math.abs(src[i * width + j]);
        terms[idx[i] * width + j]++;
      }
    }
    return [
      {
        label: `scatterAdd ${idx.length} into ${rows}×${width}`,
        // The contract: the caller zeroes out; the kernel adds into it.
        run: (impl) => {
          const o = alloc(dtype, want.length);
          impl(src, width, idx, o);
          return o;
        },
        want,
        scale: absSum.map((a, i) => Math.max(a * Math.max(terms[i], 1), 1)),
        exact: false,
      },
    ];
  },
  copyBox: (dtype, seed) => {
    const rank = ints(1, 5, seed, 'rank')[0];
    const box = Array.from(ints(rank, 3, seed, 'box'), (d) => d + 1);
    const srcExtra = ints(rank, 3, seed, 'srcExtra');
    const dstExtra = ints(rank, 3, seed, 'dstExtra');
    const srcShape = box.map((d, i) => d + srcExtra[i]);
    const dstShape = box.map((d, i) => d + dstExtra[i]);
    const srcStarts = srcShape.map((d, i) => ints(1, d - box[i] + 1, seed, 'ss', i)[0]);
    const dstStarts = dstShape.map((d, i) => ints(1, d - box[i] + 1, seed, 'ds', i)[0]);
    const src = inputs(dtype, normals(count(srcShape), seed, 'src'));
    const SENTINEL = -7777;
    const want = new Float64Array(count(dstShape)).fill(SENTINEL);
    const ss = strides(srcShape);
    const ds = strides(dstShape);
    for (const b of indices(box)) {
      want[
        dot(
          b.map((v, i) => v + dstStarts[i]),
          ds,
        )
      ] =
        src[
          dot(
            b.map((v, i) => v + srcStarts[i]),
            ss,
          )
        ];
    }
    return [
      {
        label: `copyBox [${box}] from [${srcShape}]@[${srcStarts}] to [${dstShape}]@[${dstStarts}]`,
        // Elements outside the box must be left alone (pad relies on it): a sentinel marks them.
        run: (impl) => {
          const o = alloc(dtype, want.length).fill(SENTINEL);
          impl(src, srcShape, srcStarts, o, dstShape, dstStarts, box);
          return o;
        },
        want,
        exact: true,
      },
    ];
  },
};

function reduceTrials(which: 'sum' | 'max', dtype: DType, seed: number): Trial<KernelSignatures['sum']>[] {
  const rank = ints(1, 5, seed, 'rank')[0];
  const shape = Array.from(ints(rank, 4, seed, 'dims'), (d) => d + 1);
  const pick = ints(rank, 2, seed, 'axes');
  const kept = shape.map((d, i) => (pick[i] ? 1 : d));
  const os = strides(kept).map((s, i) => (pick[i] ? 0 : s));
  const x = inputs(dtype, normals(count(shape), seed, 'x'));
  const want = new Float64Array(count(kept)).fill(which === 'sum' ? 0 : -Infinity);
  const scale = new Float64Array(want.length);
  let f = 0;
  for (const idx of indices(shape)) {
    const o = dot(idx, os);
    const v = x[f++];
    want[o] = which === 'sum' ? want[o] + v : Math.max(want[o], v);
    scale[o] += Math.abs(v);
  }
  return [
    {
      label: `${which} of [${shape}] over axes [${[...pick].flatMap((p, i) => (p ? [i] : []))}]`,
      run: (impl) => {
        const o = poisoned(dtype, want.length);
        impl(x, shape, o, os);
        return o;
      },
      want,
      scale: which === 'sum' ? scale.map((s) => Math.max(s, 1)) : undefined,
      exact: which === 'max',
    },
  ];
}

/** Worst error of `got` against `want` on the trial's scale; Infinity for a NaN (an unwritten element). */
function trialError(
  got: FloatArray,
  want: ArrayLike<number>,
  scale: ArrayLike<number> | undefined,
  exact: boolean,
): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    if (exact) {
      if (!Object.is(got[i], want[i]) && !(got[i] === want[i])) return Infinity;
      continue;
    }
    const e = Math.abs(got[i] - want[i]) / (scale ? scale[i] : Math.max(Math.abs(want[i]), 1));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

const EXPECTED: KernelName[] = [
  'binary',
  'unary',
  'where',
  'sum',
  'max',
  'matmul',
  'affine',
  'addInto',
  'scaleInto',
  'addScaledInto',
  'sumOfSquares',
  'allFinite',
  'emaInto',
  'sophiaGClip',
  'sophiaHClip',
  'adamMoments',
  'permute',
  'gather',
  'scatterAdd',
  'copyBox',
  'softmax',
  'causalSoftmax',
  'softmaxVjp',
  'logSoftmaxVjp',
  'geluVjp',
  'geluExp',
  'geluSecond',
  'tanhVjp',
  'normalize',
  'layerNorm',
  'layerNormVjp',
];

t.test('the registry: every expected kernel is registered, the CPU reference first', async (t) => {
  const names = registeredKernels();
  for (const name of EXPECTED) t.ok(names.includes(name), `${name} is registered`);
  for (const name of names) {
    t.equal(
      kernelBackends(name)[0],
      'cpu',
      `${name}: CPU reference registered first (backends: ${kernelBackends(name).join(', ')})`,
    );
    t.ok(name in CASES, `${name}: has test cases here`);
  }
});

t.test(
  'every backend of every kernel against the CPU reference, and the CPU reference against naive loops',
  async (t) => {
    const worst = new Map<string, number>();
    for (const name of registeredKernels()) {
      const make = CASES[name] as ((dtype: DType, seed: number) => Trial<unknown>[]) | undefined;
      if (!make) continue; // reported by the registry test
      const backends = kernelBackends(name);
      const cpu = kernelFor(name, 'cpu');
      for (const dtype of DTYPES) {
        fc.assert(
          fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (seed) => {
            for (const trial of make(dtype, seed)) {
              const ref = trial.run(cpu);
              const eRef = trialError(ref, trial.want, trial.scale, trial.exact);
              const key = `${name} cpu vs naive (${dtype})`;
              worst.set(key, Math.max(worst.get(key) ?? 0, eRef));
              if (!(eRef <= REFERENCE_TOL[dtype]))
                throw new Error(`${name} cpu ${dtype} ${trial.label}: error ${eRef} vs naive`);
              for (const backend of backends) {
                if (backend === 'cpu') continue;
                const got = trial.run(kernelFor(name, backend));
                // The float32 backends promise the reference within tolerance, never its bits.
                const e = trialError(got, ref, trial.scale, trial.exact && !APPROXIMATE.has(backend));
                const bkey = `${name} ${backend} vs cpu (${dtype})`;
                worst.set(bkey, Math.max(worst.get(bkey) ?? 0, e));
                // The optimizers' passes take and return float32 only, whatever the dtype loop: their
                // results are held to the float32 tolerance.
                const tol = got instanceof Float32Array ? BACKEND_TOL.float32 : BACKEND_TOL[dtype];
                if (!(e <= tol))
                  throw new Error(`${name} ${backend} ${dtype} ${trial.label}: error ${e} vs cpu`);
              }
            }
          }),
          { numRuns: FC_RUNS ?? 15 },
        );
        t.pass(`${name} (${dtype}): ${backends.join(', ')} agree`);
      }
    }
    t.comment([...worst.entries()].map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('\n'));
  },
);

t.test(
  'matmul kernels against a naive triple loop: odd sizes, every transpose flag, broadcast batches',
  async (t) => {
    const sizes: [number, number, number][] = [
      [1, 1, 1],
      [5, 7, 3],
      [17, 33, 9],
      [3, 1, 6],
      [1, 9, 2],
      [6, 5, 1],
      [13, 11, 17],
      [33, 6, 31],
      [67, 65, 63], // larger than any register tile, with ragged edges
    ];
    const batches: [number, number][] = [
      [1, 1],
      [3, 3],
      [3, 1],
      [1, 2],
    ];
    for (const backend of kernelBackends('matmul')) {
      const impl = kernelFor('matmul', backend)!;
      for (const dtype of DTYPES) {
        let worst = 0;
        let trials = 0;
        for (const [m, n, k] of sizes) {
          for (const transA of [false, true]) {
            for (const transB of [false, true]) {
              for (const [ai, bi] of m * n * k > 10000 ? [[2, 1] as [number, number]] : batches) {
                const trial = matmulTrial(dtype, 99, m, n, k, transA, transB, ai, bi);
                const e = trialError(trial.run(impl), trial.want, trial.scale, false);
                trials++;
                worst = Math.max(worst, e);
                // Backends may accumulate in the dtype; the CPU reference sums in float64.
                const tol = backend === 'cpu' ? REFERENCE_TOL[dtype] : BACKEND_TOL[dtype];
                if (!(e <= tol)) t.fail(`${backend} ${dtype} ${trial.label}: error ${e} (scaled by Σ|a·b|)`);
              }
            }
          }
        }
        const tol = backend === 'cpu' ? REFERENCE_TOL[dtype] : BACKEND_TOL[dtype];
        t.ok(
          worst <= tol,
          `matmul ${backend} ${dtype}: ${trials} products, worst |C − naive| / Σ|a·b| = ${worst.toExponential(2)} ≤ ${tol}`,
        );
      }
    }
  },
);

t.test(
  'the checks can fail: a kernel that skips an element, sums wrongly or writes outside its box is caught',
  async (t) => {
    const cpu = kernelFor('matmul', 'cpu')!;
    const trial = matmulTrial('float64', 5, 5, 7, 3, false, false);
    // Skips the last element (left as the NaN poison).
    const skipping: MatmulKernel = (a, b, out, spec) => {
      const tmp = new Float64Array(out.length);
      cpu(a, b, tmp, spec);
      for (let i = 0; i < out.length - 1; i++) out[i] = tmp[i];
    };
    t.equal(
      trialError(trial.run(skipping), trial.want, trial.scale, false),
      Infinity,
      'an unwritten (poisoned) element fails',
    );
    // Runs with the wrong inner dimension (k − 1).
    const short: MatmulKernel = (a, b, out, spec) => cpu(a, b, out, { ...spec, k: spec.k - 1 });
    t.ok(trialError(trial.run(short), trial.want, trial.scale, false) > 1e-3, 'a wrong sum fails');
    const copy = CASES.copyBox('float64', 3)[0];
    const sloppy: KernelSignatures['copyBox'] = (src, ss, s0, dst, ds, d0, box) => {
      kernelFor('copyBox', 'cpu')!(src, ss, s0, dst, ds, d0, box);
      dst[0] = 0; // writes outside the box (or overwrites it)
    };
    t.ok(
      trialError(copy.run(sloppy), copy.want, undefined, true) === Infinity,
      'a copyBox that writes outside its box fails',
    );
  },
);
