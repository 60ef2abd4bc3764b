/**
 * gpu.js kernel sources for the registry's row-wise kernels over x viewed as [rows, cols] — the
 * softmax family and LayerNorm — and the elementwise GELU backward, run synchronously by
 * rows.ts. They follow sources.ts's rules (indices inline, loop counters the only integer
 * variables, LOOP_MAX_ITERATIONS on data-dependent loops).
 *
 * A row statistic (max, Σexp, mean, …) is one thread per row, output [rows]; the elementwise pass
 * that uses it is one thread per element, output [cols, rows] (x = column, y = row). Splitting them
 * keeps the work O(rows·cols), where a thread per element recomputing its row's statistics would be
 * O(rows·cols²).
 *
 * Causal forms index rows by block instead of using `%` (a float operation): the row kernels run
 * over [cols, blocks] (x = row i of a block, y = block) and the element kernels over
 * [cols, cols, blocks] (x = column j, y = row i, z = block), so row i's width is simply i + 1.
 */
import type { KernelSource } from './sources.js';

const TX = 'this.thread.x';
const TY = 'this.thread.y';
const TZ = 'this.thread.z';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/** Where a row kernel's row starts (as a row number) and how many of its columns count. */
interface RowThread {
  row: string;
  width: string;
}
const PLAIN_ROW: RowThread = { row: TX, width: 'cols' };
const CAUSAL_ROW: RowThread = { row: `(${TY} * cols + ${TX})`, width: `${TX} + 1` };

/** An element kernel's row number and the early return for masked (causal) entries. */
interface ElementThread {
  row: string;
  mask: string;
}
const PLAIN_ELEMENT: ElementThread = { row: TY, mask: '' };
const CAUSAL_ELEMENT: ElementThread = {
  row: `(${TZ} * cols + ${TY})`,
  mask: `if (${TX} > ${TY}) {
    return 0;
  }
  `,
};

/**
 * Row max over each row's width: output [rows] (causal: [cols, blocks]); args (x, cols). NaN is
 * skipped (`v > m`, from −∞) as the CPU reference's max is; a NaN row still ends all-NaN through Σexp.
 */
export function rowMaxSource(causal: boolean): KernelSource {
  const { row, width } = causal ? CAUSAL_ROW : PLAIN_ROW;
  const source = `function (x, cols) {
  let m = -Infinity;
  for (let c = 0; c < ${width}; c++) {
    const v = x[${row} * cols + c];
    if (v > m) {
      m = v;
    }
  }
  return m;
}`;
  return { key: `rowMax:${+causal}`, source, argumentTypes: { x: 'Array', cols: 'Integer' } };
}

/**
 * Σ_c exp(x[r, c] − m[r]) over each row's width, or its log when `log` (log-softmax subtracts it):
 * output as rowMaxSource; args (x, m, cols).
 */
export function rowExpSumSource(causal: boolean, log: boolean): KernelSource {
  const { row, width } = causal ? CAUSAL_ROW : PLAIN_ROW;
  const source = `function (x, m, cols) {
  let s = 0;
  for (let c = 0; c < ${width}; c++) {
    s += Math.exp(x[${row} * cols + c] - m[${row}]);
  }
  return ${log ? 'Math.log(s)' : 's'};
}`;
  return {
    key: `rowExpSum:${+causal}${+log}`,
    source,
    argumentTypes: { x: 'Array', m: 'Array', cols: 'Integer' },
  };
}

/**
 * softmax = exp(x − m)/s, or log-softmax = (x − m) − log s when `log` (s then holds log s), per
 * element: output [cols, rows] (causal: [cols, cols, blocks], 0 above the diagonal); args (x, m, s, cols).
 */
export function softmaxSource(causal: boolean, log: boolean): KernelSource {
  const { row, mask } = causal ? CAUSAL_ELEMENT : PLAIN_ELEMENT;
  const source = `function (x, m, s, cols) {
  ${mask}const d = x[${row} * cols + ${TX}] - m[${row}];
  return ${log ? `d - s[${row}]` : `Math.exp(d) / s[${row}]`};
}`;
  return {
    key: `softmax:${+causal}${+log}`,
    source,
    argumentTypes: { x: 'Array', m: 'Array', s: 'Array', cols: 'Integer' },
  };
}

/** Σ_c g[r, c]·y[r, c] per row: output [rows]; args (y, g, cols). */
export function rowDotSource(): KernelSource {
  const source = `function (y, g, cols) {
  let s = 0;
  for (let c = 0; c < cols; c++) {
    s += g[${TX} * cols + c] * y[${TX} * cols + c];
  }
  return s;
}`;
  return { key: 'rowDot', source, argumentTypes: { y: 'Array', g: 'Array', cols: 'Integer' } };
}

/** The softmax VJP y ⊙ (g − dot[row]): output [cols, rows]; args (y, g, dot, cols). */
export function softmaxVjpSource(): KernelSource {
  const source = `function (y, g, dot, cols) {
  return y[${TY} * cols + ${TX}] * (g[${TY} * cols + ${TX}] - dot[${TY}]);
}`;
  return {
    key: 'softmaxVjp',
    source,
    argumentTypes: { y: 'Array', g: 'Array', dot: 'Array', cols: 'Integer' },
  };
}

/** The log-softmax VJP g − exp(y)·s[row] (s = Σ_row g): output [cols, rows]; args (y, g, s, cols). */
export function logSoftmaxVjpSource(): KernelSource {
  const source = `function (y, g, s, cols) {
  return g[${TY} * cols + ${TX}] - Math.exp(y[${TY} * cols + ${TX}]) * s[${TY}];
}`;
  return {
    key: 'logSoftmaxVjp',
    source,
    argumentTypes: { y: 'Array', g: 'Array', s: 'Array', cols: 'Integer' },
  };
}

/** Row mean: output [rows]; args (x, cols). */
export function rowMeanSource(): KernelSource {
  const source = `function (x, cols) {
  let s = 0;
  for (let c = 0; c < cols; c++) {
    s += x[${TX} * cols + c];
  }
  return s / cols;
}`;
  return { key: 'rowMean', source, argumentTypes: { x: 'Array', cols: 'Integer' } };
}

/**
 * rstd = 1/√(var + eps) per row, the population variance taken about the given mean (two passes:
 * Σ(x − mean)² does not cancel the way Σx² − n·mean² does in float32). Output [rows]; args
 * (x, mean, cols, eps).
 */
export function rowRstdSource(): KernelSource {
  const source = `function (x, mean, cols, eps) {
  let v = 0;
  for (let c = 0; c < cols; c++) {
    const d = x[${TX} * cols + c] - mean[${TX}];
    v += d * d;
  }
  return 1 / Math.sqrt(v / cols + eps);
}`;
  return {
    key: 'rowRstd',
    source,
    argumentTypes: { x: 'Array', mean: 'Array', cols: 'Integer', eps: 'Float' },
  };
}

/**
 * LayerNorm's x̂ = (x − mean)·rstd, or y = x̂·gain + bias when `affine` — the same float32 x̂ in both,
 * so y is the stored x̂ scaled and shifted. Output [cols, rows]; args (x, mean, rstd, gain, bias, cols).
 */
export function layerNormSource(affine: boolean): KernelSource {
  const xhat = `(x[${TY} * cols + ${TX}] - mean[${TY}]) * rstd[${TY}]`;
  const source = `function (x, mean, rstd, gain, bias, cols) {
  return ${affine ? `${xhat} * gain[${TX}] + bias[${TX}]` : xhat};
}`;
  return {
    key: `layerNorm:${+affine}`,
    source,
    argumentTypes: {
      x: 'Array',
      mean: 'Array',
      rstd: 'Array',
      gain: 'Array',
      bias: 'Array',
      cols: 'Integer',
    },
  };
}

/** mean_c(g·gain), or mean_c(g·gain·x̂) when `withXhat`, per row: output [rows]; args (g, xhat, gain, cols). */
export function rowGainMeanSource(withXhat: boolean): KernelSource {
  const term = `g[${TX} * cols + c] * gain[c]${withXhat ? ` * xhat[${TX} * cols + c]` : ''}`;
  const source = `function (g, xhat, gain, cols) {
  let s = 0;
  for (let c = 0; c < cols; c++) {
    s += ${term};
  }
  return s / cols;
}`;
  return {
    key: `rowGainMean:${+withXhat}`,
    source,
    argumentTypes: { g: 'Array', xhat: 'Array', gain: 'Array', cols: 'Integer' },
  };
}

/**
 * LayerNorm's dx = rstd·(g·gain − mg − x̂·mgx) from the row means mg = mean(g·gain) and
 * mgx = mean(g·gain·x̂): output [cols, rows]; args (g, xhat, rstd, gain, mg, mgx, cols).
 */
export function layerNormDxSource(): KernelSource {
  const i = `${TY} * cols + ${TX}`;
  const source = `function (g, xhat, rstd, gain, mg, mgx, cols) {
  return rstd[${TY}] * (g[${i}] * gain[${TX}] - mg[${TY}] - xhat[${i}] * mgx[${TY}]);
}`;
  return {
    key: 'layerNormDx',
    source,
    argumentTypes: {
      g: 'Array',
      xhat: 'Array',
      rstd: 'Array',
      gain: 'Array',
      mg: 'Array',
      mgx: 'Array',
      cols: 'Integer',
    },
  };
}

/** Σ_r a[r, c]·b[r, c] per column (LayerNorm's dgain): output [cols]; args (a, b, rows, cols). */
export function colDotSource(): KernelSource {
  const source = `function (a, b, rows, cols) {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    s += a[r * cols + ${TX}] * b[r * cols + ${TX}];
  }
  return s;
}`;
  return {
    key: 'colDot',
    source,
    argumentTypes: { a: 'Array', b: 'Array', rows: 'Integer', cols: 'Integer' },
  };
}

/**
 * g·GELU′(x) elementwise, in cpu/gelu.ts's σ form GELU′ = σ·(1 + 2x·e·σ·u′), e = exp(−2u),
 * σ = 1/(1 + e) — no 1 ± tanh cancellation. It is evaluated from z = exp(−2|u|) ≤ 1 (σ and e·σ are
 * p = 1/(1 + z) and z·p, swapped for u < 0), because float32 exp(−2u) overflows for x below about
 * −10 and ∞·0 would then be NaN. Output [len]; args (x, g).
 */
export function geluVjpSource(): KernelSource {
  const source = `function (x, g) {
  const v = x[${TX}];
  const u = ${GELU_C} * (v + ${GELU_A} * v * v * v);
  const z = Math.exp(-2 * Math.abs(u));
  const p = 1 / (1 + z);
  const s = u < 0 ? z * p : p;
  const es = u < 0 ? p : z * p;
  return g[${TX}] * (s * (1 + 2 * v * es * ${GELU_C} * (1 + ${3 * GELU_A} * v * v)));
}`;
  return { key: 'geluVjp', source, argumentTypes: { x: 'Array', g: 'Array' } };
}
