/**
 * gpu.js kernel sources of the registry's kernels and the device's elementwise pieces, shared by the
 * synchronous gpu.js registry backend (sync.ts, `webasm`/`cpu` modes) and the WebGPU device API
 * (src/gpu/device, `pipeline: true, immutable: true`, results stay on the device); the probes' own
 * sources (src/gpu/probes) build on the argument helpers exported here.
 *
 * Sources are strings (not TypeScript functions) so tsc and tsx hand gpu.js the same text. Rules
 * learned from gpu.js 2.24's WGSL translation, which every source here follows:
 * - A `let`/`const` initialised from an integer expression is declared f32 ("int-typed initializers
 *   decay to float"), so an index stored in a variable loses precision past 2^24. Indices are written
 *   inline in the subscript (i32 arithmetic throughout); only loop counters are integer variables.
 * - Loops with a non-constant bound are capped at `loopMaxIterations` (default 1000!) — kernels are
 *   built with LOOP_MAX_ITERATIONS.
 * - `%` and `/` are float operations; neither is used on indices.
 * - A pipeline result returned as Array(n) cannot be passed to another kernel; src/gpu/device reinterprets
 *   such buffers as flat scalar buffers (same bytes: element (x, c) is at x·n + c).
 * Sizes are scalar Integer arguments rather than constants, so kernels of different sizes share one
 * WGSL text (Dawn then reuses the compiled shader).
 */
import type { BinaryOp, UnaryOp } from '../registry.js';

/** Cap for data-dependent loops (gpu.js's LOOP_MAX); far above any k a kernel here loops over. */
export const LOOP_MAX_ITERATIONS = 1 << 30;

export interface KernelSource {
  /** Cache key (the source text is determined by it). */
  key: string;
  source: string;
  argumentTypes: Record<string, 'Array' | 'Integer' | 'Float'>;
  returnType?: 'Number' | 'Array(2)' | 'Array(4)';
}

export const TX = 'this.thread.x';
export const TY = 'this.thread.y';
export const TZ = 'this.thread.z';

export function arrays(...names: string[]): Record<string, 'Array'> {
  return Object.fromEntries(names.map((n) => [n, 'Array' as const]));
}
export function ints(...names: string[]): Record<string, 'Integer'> {
  return Object.fromEntries(names.map((n) => [n, 'Integer' as const]));
}
export function floats(...names: string[]): Record<string, 'Float'> {
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
