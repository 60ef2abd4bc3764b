/**
 * gpu.js kernel sources for the probes and updates, shared by the WebGPU device API (device.ts,
 * `pipeline: true, immutable: true`, results stay on the device) and the synchronous gpu.js
 * `webasm`/`cpu` wrappers (sync.ts).
 *
 * Sources are strings (not TypeScript functions) so tsc and tsx hand gpu.js the same text. Rules
 * learned from gpu.js 2.24's WGSL translation, which every source here follows:
 * - A `let`/`const` initialised from an integer expression is declared f32 ("int-typed initializers
 *   decay to float"), so an index stored in a variable loses precision past 2^24. Indices are written
 *   inline in the subscript (i32 arithmetic throughout); only loop counters are integer variables.
 * - Loops with a non-constant bound are capped at `loopMaxIterations` (default 1000!) — kernels are
 *   built with LOOP_MAX_ITERATIONS.
 * - `%` and `/` are float operations; neither is used on indices.
 * - A pipeline result returned as Array(n) cannot be passed to another kernel; device.ts reinterprets
 *   such buffers as flat scalar buffers (same bytes: element (x, c) is at x·n + c).
 * Sizes are scalar Integer arguments rather than constants, so kernels of different sizes share one
 * WGSL text (Dawn then reuses the compiled shader).
 */
import type { BinaryOp, UnaryOp } from '../kernels/registry.js';

/** Cap for data-dependent loops (gpu.js's LOOP_MAX); far above any k a kernel here loops over. */
export const LOOP_MAX_ITERATIONS = 1 << 30;

export interface KernelSource {
  /** Cache key (the source text is determined by it). */
  key: string;
  source: string;
  argumentTypes: Record<string, 'Array' | 'Integer' | 'Float'>;
  returnType?: 'Number' | 'Array(2)' | 'Array(4)';
}

const TX = 'this.thread.x';
const TY = 'this.thread.y';
const TZ = 'this.thread.z';

function arrays(...names: string[]): Record<string, 'Array'> {
  return Object.fromEntries(names.map((n) => [n, 'Array' as const]));
}
function ints(...names: string[]): Record<string, 'Integer'> {
  return Object.fromEntries(names.map((n) => [n, 'Integer' as const]));
}
function floats(...names: string[]): Record<string, 'Float'> {
  return Object.fromEntries(names.map((n) => [n, 'Float' as const]));
}

/** A(i, p) and B(p, j) of C = op(A)·op(B) in the registry's storage conventions. */
function aIndex(transA: boolean, row: string, p: string): string {
  return transA ? `aOff + ${p} * m + (${row})` : `aOff + (${row}) * k + ${p}`;
}
function bIndex(transB: boolean, col: string, p: string): string {
  return transB ? `bOff + (${col}) * k + ${p}` : `bOff + ${p} * n + (${col})`;
}

/**
 * Naive matmul, one output per thread. Output [n, m] (x = column j, y = row i); args
 * (a, b, m, n, k, aOff, bOff). transA: A stored [k, m]; transB: B stored [n, k].
 */
export function matmulSource(transA: boolean, transB: boolean): KernelSource {
  const source = `function (a, b, m, n, k, aOff, bOff) {
  let s = 0;
  for (let p = 0; p < k; p++) {
    s += a[${aIndex(transA, TY, 'p')}] * b[${bIndex(transB, TX, 'p')}];
  }
  return s;
}`;
  return {
    key: `matmul:${+transA}${+transB}`,
    source,
    argumentTypes: { ...arrays('a', 'b'), ...ints('m', 'n', 'k', 'aOff', 'bOff') },
  };
}

/**
 * Register-tiled matmul: each thread computes four adjacent outputs of one row (columns 4x…4x+3),
 * so each A element loaded is used four times. Output [n/4, m] of Array(4): the result buffer is
 * exactly row-major C when n % 4 == 0 (callers use the naive form otherwise).
 */
export function matmulTiledSource(transA: boolean, transB: boolean): KernelSource {
  const col = (c: number) => `${TX} * 4 + ${c}`;
  const source = `function (a, b, m, n, k, aOff, bOff) {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let p = 0; p < k; p++) {
    const x = a[${aIndex(transA, TY, 'p')}];
    s0 += x * b[${bIndex(transB, col(0), 'p')}];
    s1 += x * b[${bIndex(transB, col(1), 'p')}];
    s2 += x * b[${bIndex(transB, col(2), 'p')}];
    s3 += x * b[${bIndex(transB, col(3), 'p')}];
  }
  return [s0, s1, s2, s3];
}`;
  return {
    key: `matmul4:${+transA}${+transB}`,
    source,
    argumentTypes: { ...arrays('a', 'b'), ...ints('m', 'n', 'k', 'aOff', 'bOff') },
    returnType: 'Array(4)',
  };
}

/** Unary expressions in `v` (and the parameter `p` for pow), matching src/kernels/cpu/elementwise.ts. */
const UNARY_BODY: Record<UnaryOp, string> = {
  neg: 'return -v;',
  exp: 'return Math.exp(v);',
  log: 'return Math.log(v);',
  sqrt: 'return Math.sqrt(v);',
  // tanh(±15) is ±1 in float32; clamping keeps large |v| away from exp overflow (inf/inf) in drivers
  // that expand tanh through exp
  tanh: 'return Math.tanh(Math.min(Math.max(v, -15), 15));',
  sigmoid: 'return 1 / (1 + Math.exp(-v));',
  relu: 'return v > 0 ? v : 0;',
  step: 'return v > 0 ? 1 : 0;',
  pow: `if (p == 2) { return v * v; }
  if (p == 1) { return v; }
  if (p == 3) { return v * v * v; }
  if (p == -1) { return 1 / v; }
  if (p == 0.5) { return Math.sqrt(v); }
  if (p == 0) { return 1; }
  const a = Math.pow(Math.abs(v), p);
  if (v < 0) {
    if (Math.abs(p - 2 * Math.floor(p * 0.5)) == 1) { return -a; }
  }
  return a;`,
  abs: 'return Math.abs(v);',
  sign: 'return v > 0 ? 1 : (v < 0 ? -1 : 0);',
  // GELU, tanh form (as cpuGelu / cpuGeluGrad); the tanh argument is clamped like tanh above
  gelu: `const u = Math.min(Math.max(${Math.sqrt(2 / Math.PI)} * (v + 0.044715 * v * v * v), -15), 15);
  return 0.5 * v * (1 + Math.tanh(u));`,
  geluGrad: `const u = Math.min(Math.max(${Math.sqrt(2 / Math.PI)} * (v + 0.044715 * v * v * v), -15), 15);
  const t = Math.tanh(u);
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * ${Math.sqrt(2 / Math.PI)} * (1 + 3 * 0.044715 * v * v);`,
};

/** Elementwise unary op over a flat vector: output [len]; args (x, p). */
export function unarySource(op: UnaryOp): KernelSource {
  const source = `function (x, p) {
  const v = x[${TX}];
  ${UNARY_BODY[op]}
}`;
  return { key: `unary:${op}`, source, argumentTypes: { ...arrays('x'), ...floats('p') } };
}

const BINARY_EXPR: Record<BinaryOp, string> = {
  add: 'x + y',
  sub: 'x - y',
  mul: 'x * y',
  div: 'x / y',
  maximum: 'x >= y ? x : y',
  greaterEqual: 'x >= y ? 1 : 0',
  equal: 'x == y ? 1 : 0',
};

/** Strided index of a 3-D output position (z, y, x) into an input with strides (s0, s1, s2). */
function strided(prefix: string): string {
  return `${TZ} * ${prefix}0 + ${TY} * ${prefix}1 + ${TX} * ${prefix}2`;
}

/**
 * Elementwise binary op with broadcasting over a (collapsed) 3-D output [d0, d1, d2] (gpu.js output
 * [d2, d1, d0]); each input is read through its own strides (0 where it broadcasts).
 */
export function binarySource(op: BinaryOp): KernelSource {
  const source = `function (a, b, as0, as1, as2, bs0, bs1, bs2) {
  const x = a[${strided('as')}];
  const y = b[${strided('bs')}];
  return ${BINARY_EXPR[op]};
}`;
  return {
    key: `binary:${op}`,
    source,
    argumentTypes: { ...arrays('a', 'b'), ...ints('as0', 'as1', 'as2', 'bs0', 'bs1', 'bs2') },
  };
}

/** cond ? a : b (cond nonzero = true) with broadcasting over a collapsed 3-D output. */
export function whereSource(): KernelSource {
  const source = `function (c, a, b, cs0, cs1, cs2, as0, as1, as2, bs0, bs1, bs2) {
  if (c[${strided('cs')}] != 0) {
    return a[${strided('as')}];
  }
  return b[${strided('bs')}];
}`;
  return {
    key: 'where',
    source,
    argumentTypes: {
      ...arrays('c', 'a', 'b'),
      ...ints('cs0', 'cs1', 'cs2', 'as0', 'as1', 'as2', 'bs0', 'bs1', 'bs2'),
    },
  };
}

/** Sum or max over the last axis of [rows, cols]: output [rows]; args (x, cols). */
export function reduceRowsSource(op: 'sum' | 'max'): KernelSource {
  const init = op === 'sum' ? '0' : 'x[' + TX + ' * cols]';
  const step = op === 'sum' ? 's += x[' + TX + ' * cols + c];' : 's = Math.max(s, x[' + TX + ' * cols + c]);';
  const source = `function (x, cols) {
  let s = ${init};
  for (let c = 0; c < cols; c++) {
    ${step}
  }
  return s;
}`;
  return { key: `reduceRows:${op}`, source, argumentTypes: { ...arrays('x'), ...ints('cols') } };
}

/** Sum over the first axis of [rows, cols] (e.g. a bias gradient): output [cols]; args (x, rows, cols). */
export function sumColsSource(): KernelSource {
  const source = `function (x, rows, cols) {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    s += x[r * cols + ${TX}];
  }
  return s;
}`;
  return { key: 'sumCols', source, argumentTypes: { ...arrays('x'), ...ints('rows', 'cols') } };
}

/** log Σ_c exp(l[r, c]) per row of logits [rows, classes] (max-shifted): output [rows]. */
export function logSumExpRowsSource(): KernelSource {
  const source = `function (l, classes) {
  let mx = l[${TX} * classes];
  for (let c1 = 1; c1 < classes; c1++) {
    mx = Math.max(mx, l[${TX} * classes + c1]);
  }
  let s = 0;
  for (let c2 = 0; c2 < classes; c2++) {
    s += Math.exp(l[${TX} * classes + c2] - mx);
  }
  return mx + Math.log(s);
}`;
  return { key: 'lseRows', source, argumentTypes: { ...arrays('l'), ...ints('classes') } };
}

/**
 * Gradient of scale·Σ_r CE(l[r], label[r]) with respect to the logits: scale·(softmax(l[r]) − onehot).
 * Output [classes, rows]; args (l, lse, labels, classes, scale); labels are class ids stored as floats.
 */
export function softmaxXentGradSource(): KernelSource {
  const source = `function (l, lse, labels, classes, scale) {
  const pr = Math.exp(l[${TY} * classes + ${TX}] - lse[${TY}]);
  const hit = Math.abs(labels[${TY}] - ${TX}) < 0.5 ? 1 : 0;
  return scale * (pr - hit);
}`;
  return {
    key: 'xentGrad',
    source,
    argumentTypes: { ...arrays('l', 'lse', 'labels'), ...ints('classes'), ...floats('scale') },
  };
}

/**
 * Draws a class per row from softmax(l[r]) with the uniform u[r] in [0, 1), exactly as
 * CounterRng.categorical does on the CPU (r = u·Σp; subtract p_c until r < 0; else the last class),
 * so given the same uniforms the labels match the CPU probe's (up to float32 rounding at a boundary).
 * Output [rows]; labels as floats.
 */
export function sampleLabelsSource(): KernelSource {
  const source = `function (l, u, classes) {
  let mx = l[${TX} * classes];
  for (let c1 = 1; c1 < classes; c1++) {
    mx = Math.max(mx, l[${TX} * classes + c1]);
  }
  let total = 0;
  for (let c2 = 0; c2 < classes; c2++) {
    total += Math.exp(l[${TX} * classes + c2] - mx);
  }
  let r = u[${TX}] * total;
  let pick = classes - 1;
  let found = 0;
  for (let c3 = 0; c3 < classes; c3++) {
    if (found == 0) {
      r -= Math.exp(l[${TX} * classes + c3] - mx);
      if (r < 0) {
        pick = c3;
        found = 1;
      }
    }
  }
  return pick;
}`;
  return { key: 'sampleLabels', source, argumentTypes: { ...arrays('l', 'u'), ...ints('classes') } };
}

/**
 * Fused Sophia-G step over a flat vector whose state is interleaved [θ0, m0, θ1, m1, …]:
 *   m ← β1·m + (1−β1)·g;  θ ← θ·(1 − lr·wd) − lr·sign(m)·min(|m| / (ρ·bs·h + 1e-15), 1)
 * Output [d] of Array(2) = the new interleaved state (θ, m). Args (s, g, h, lr, wd, b1, rhoBs).
 */
export function sophiaGSource(): KernelSource {
  const source = `function (s, g, h, lr, wd, b1, rhoBs) {
  const th = s[${TX} * 2];
  const m = b1 * s[${TX} * 2 + 1] + (1 - b1) * g[${TX}];
  const ratio = Math.abs(m) / (rhoBs * h[${TX}] + 1e-15);
  return [th * (1 - lr * wd) - lr * Math.sign(m) * Math.min(ratio, 1), m];
}`;
  return {
    key: 'sophiaG',
    source,
    argumentTypes: { ...arrays('s', 'g', 'h'), ...floats('lr', 'wd', 'b1', 'rhoBs') },
    returnType: 'Array(2)',
  };
}

/** Interleaves θ and m into a Sophia state: output [d] of Array(2). */
export function interleaveSource(): KernelSource {
  const source = `function (a, b) {
  return [a[${TX}], b[${TX}]];
}`;
  return { key: 'interleave2', source, argumentTypes: arrays('a', 'b'), returnType: 'Array(2)' };
}

/** Every `stride`-th element from `offset`: output [len] (e.g. θ out of an interleaved state). */
export function stridedSource(): KernelSource {
  const source = `function (x, offset, stride) {
  return x[offset + ${TX} * stride];
}`;
  return { key: 'strided', source, argumentTypes: { ...arrays('x'), ...ints('offset', 'stride') } };
}

/** Exponential moving average h ← β·h + (1−β)·x: output [len]; args (h, x, beta). */
export function emaSource(): KernelSource {
  const source = `function (h, x, beta) {
  return beta * h[${TX}] + (1 - beta) * x[${TX}];
}`;
  return { key: 'ema', source, argumentTypes: { ...arrays('h', 'x'), ...floats('beta') } };
}

// ---- MLP Gauss-Newton-Bartlett probe pieces (weights [out, in] row-major in the flat θ) ----

/**
 * Dense layer z[r, j] = Σ_p x[r, p]·θ[wOff + j·in + p] + θ[bOff + j], then tanh when `act`.
 * Output [out, rows]; args (x, theta, inF, wOff, bOff).
 */
export function linearSource(act: 'tanh' | 'none'): KernelSource {
  const ret = act === 'tanh' ? 'return Math.tanh(Math.min(Math.max(s, -15), 15));' : 'return s;';
  const source = `function (x, theta, inF, wOff, bOff) {
  let s = theta[bOff + ${TX}];
  for (let p = 0; p < inF; p++) {
    s += x[${TY} * inF + p] * theta[wOff + ${TX} * inF + p];
  }
  ${ret}
}`;
  return {
    key: `linear:${act}`,
    source,
    argumentTypes: { ...arrays('x', 'theta'), ...ints('inF', 'wOff', 'bOff') },
  };
}

/** Squared weight gradient (Σ_r dz[r, j]·x[r, p])²: output [in, out] (x = p, y = j); args (dz, x, rows, inF, outF). */
export function weightGradSqSource(): KernelSource {
  const source = `function (dz, x, rows, inF, outF) {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    s += dz[r * outF + ${TY}] * x[r * inF + ${TX}];
  }
  return s * s;
}`;
  return {
    key: 'weightGradSq',
    source,
    argumentTypes: { ...arrays('dz', 'x'), ...ints('rows', 'inF', 'outF') },
  };
}

/** Squared bias gradient (Σ_r dz[r, j])²: output [out]; args (dz, rows, outF). */
export function biasGradSqSource(): KernelSource {
  const source = `function (dz, rows, outF) {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    s += dz[r * outF + ${TX}];
  }
  return s * s;
}`;
  return { key: 'biasGradSq', source, argumentTypes: { ...arrays('dz'), ...ints('rows', 'outF') } };
}

/**
 * Back through a dense layer and the tanh before it: dz_prev[r, p] = (Σ_j dz[r, j]·W[j, p])·(1 − h[r, p]²)
 * where h = tanh output feeding the layer. Output [in, rows]; args (dz, theta, h, inF, outF, wOff).
 */
export function backTanhSource(): KernelSource {
  const source = `function (dz, theta, h, inF, outF, wOff) {
  let s = 0;
  for (let j = 0; j < outF; j++) {
    s += dz[${TY} * outF + j] * theta[wOff + j * inF + ${TX}];
  }
  const hv = h[${TY} * inF + ${TX}];
  return s * (1 - hv * hv);
}`;
  return {
    key: 'backTanh',
    source,
    argumentTypes: { ...arrays('dz', 'theta', 'h'), ...ints('inF', 'outF', 'wOff') },
  };
}
