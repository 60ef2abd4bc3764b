/**
 * CPU reference kernels for elementwise ops. Each op's loop is generated once with `new Function`
 * so every op gets its own monomorphic loop that V8 optimises on its own, instead of one shared loop
 * calling a per-op callback (which goes megamorphic and runs several times slower).
 */
import { cpuExp } from './exp.js';
import { cpuGelu, cpuGeluGrad } from './gelu.js';
import type {
  BinaryKernel,
  BinaryOp,
  NormalizeKernel,
  UnaryKernel,
  UnaryOp,
  WhereKernel,
} from '../registry.js';

const BINARY_EXPR: Record<BinaryOp, string> = {
  add: 'x + y',
  sub: 'x - y',
  mul: 'x * y',
  div: 'x / y',
  maximum: 'x >= y ? x : y',
  greaterEqual: 'x >= y ? 1 : 0',
  equal: 'x === y ? 1 : 0',
};

const UNARY_EXPR: Record<UnaryOp, string> = {
  neg: '-x',
  exp: 'unused', // cpuExp in gelu.ts (a fast float32 path)
  log: 'Math.log(x)',
  sqrt: 'Math.sqrt(x)',
  tanh: 'Math.tanh(x)',
  sigmoid: '1 / (1 + Math.exp(-x))',
  relu: 'x > 0 ? x : 0',
  step: 'x > 0 ? 1 : 0',
  pow: 'Math.pow(x, p)', // unused: cpuPow below specialises common exponents
  abs: 'Math.abs(x)',
  sign: 'x > 0 ? 1 : x < 0 ? -1 : 0',
  gelu: 'unused', // cpuGelu in gelu.ts
  geluGrad: 'unused', // cpuGeluGrad in gelu.ts
};

/**
 * Walks the output in row-major order; the innermost dim is a strided loop and the outer dims an
 * odometer that advances each input's offset by its (possibly zero) stride.
 */
function makeBinary(op: string, expr: string): BinaryKernel {
  return new Function(
    'a',
    'as',
    'b',
    'bs',
    'out',
    'shape',
    `
    const n = out.length;
    if (n === 0) return;
    const rank = shape.length;
    if (rank === 0) { const x = a[0], y = b[0]; out[0] = ${expr}; return; }
    const inner = shape[rank - 1], ai = as[rank - 1], bi = bs[rank - 1];
    const idx = new Int32Array(rank);
    let ao = 0, bo = 0, o = 0;
    while (o < n) {
      let pa = ao, pb = bo;
      for (let j = 0; j < inner; j++) { const x = a[pa], y = b[pb]; out[o++] = ${expr}; pa += ai; pb += bi; }
      for (let d = rank - 2; d >= 0; d--) {
        idx[d]++; ao += as[d]; bo += bs[d];
        if (idx[d] < shape[d]) break;
        ao -= as[d] * shape[d]; bo -= bs[d] * shape[d]; idx[d] = 0;
      }
    }
    //# sourceURL=hessflow-kernel-binary-${op}.js`,
  ) as BinaryKernel;
}

function makeUnary(op: string, expr: string): UnaryKernel {
  const body = `for (let i = 0; i < out.length; i++) { const x = x0[i]; out[i] = ${expr}; }`;
  return new Function(
    'x0',
    'out',
    'p',
    `${body}\n//# sourceURL=hessflow-kernel-unary-${op}.js`,
  ) as UnaryKernel;
}

const binaryCache = new Map<BinaryOp, BinaryKernel>();
const unaryCache = new Map<UnaryOp, UnaryKernel>();

export function cpuBinary(op: BinaryOp): BinaryKernel {
  let k = binaryCache.get(op);
  if (!k) binaryCache.set(op, (k = makeBinary(op, BINARY_EXPR[op])));
  return k;
}

/** pow with the common exponents as plain arithmetic: Math.pow is several times slower. */
const cpuPow: UnaryKernel = (x, out, p) => {
  const n = out.length;
  if (p === 2) for (let i = 0; i < n; i++) out[i] = x[i] * x[i];
  else if (p === 3) for (let i = 0; i < n; i++) out[i] = x[i] * x[i] * x[i];
  else if (p === 1) for (let i = 0; i < n; i++) out[i] = x[i];
  else if (p === -1) for (let i = 0; i < n; i++) out[i] = 1 / x[i];
  else if (p === 0.5) for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]);
  else if (p === -0.5) for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(x[i]);
  else for (let i = 0; i < n; i++) out[i] = Math.pow(x[i], p);
};

export function cpuUnary(op: UnaryOp): UnaryKernel {
  if (op === 'pow') return cpuPow;
  if (op === 'exp') return cpuExp;
  if (op === 'gelu') return cpuGelu;
  if (op === 'geluGrad') return cpuGeluGrad;
  let k = unaryCache.get(op);
  if (!k) unaryCache.set(op, (k = makeUnary(op, UNARY_EXPR[op])));
  return k;
}

export const cpuWhere: WhereKernel = (cond, cs, a, as, b, bs, out, shape) => {
  const n = out.length;
  if (n === 0) return;
  const rank = shape.length;
  if (rank === 0) {
    out[0] = cond[0] !== 0 ? a[0] : b[0];
    return;
  }
  const idx = new Int32Array(rank);
  let co = 0,
    ao = 0,
    bo = 0,
    o = 0;
  const inner = shape[rank - 1];
  while (o < n) {
    let pc = co,
      pa = ao,
      pb = bo;
    for (let j = 0; j < inner; j++) {
      out[o++] = cond[pc] !== 0 ? a[pa] : b[pb];
      pc += cs[rank - 1];
      pa += as[rank - 1];
      pb += bs[rank - 1];
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      co += cs[d];
      ao += as[d];
      bo += bs[d];
      if (idx[d] < shape[d]) break;
      co -= cs[d] * shape[d];
      ao -= as[d] * shape[d];
      bo -= bs[d] * shape[d];
      idx[d] = 0;
    }
  }
};

/** Row-wise (x − mean)/√(var + eps); statistics in float64. */
export const cpuNormalize: NormalizeKernel = (x, rows, cols, eps, xhat, rstd) => {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mean = 0;
    for (let j = 0; j < cols; j++) mean += x[o + j];
    mean /= cols;
    let variance = 0;
    for (let j = 0; j < cols; j++) variance += (x[o + j] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / cols + eps);
    rstd[r] = inv;
    for (let j = 0; j < cols; j++) xhat[o + j] = (x[o + j] - mean) * inv;
  }
};
