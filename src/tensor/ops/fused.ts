/**
 * Fused primitives for the composites that dominate transformer training time: softmax (plain and
 * causal), logSoftmax, GELU and normalisation each run as one kernel instead of a chain of
 * elementwise ops, and so do the VJPs of softmax and GELU. Each fused VJP is itself a primitive whose
 * VJP is written in differentiable ops (GELU's needs GELU″, built from primitives), so double
 * backward — exact Hessian-vector products — works through them exactly as through the composites
 * they replace.
 */
import { activeKernelBackend, kernel } from '../../kernels/registry.js';
import { isGradEnabled, record } from '../graph.js';
import { Tensor, arrayFor, kernelOutput } from '../tensor.js';
import { ShapeError, describeShape } from '../errors.js';
import { expectTensor, output } from './common.js';
import { add, exp, mul, pow, sub, tanh } from './elementwise.js';
import { mean, sum } from './reduce.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU″(x) in primitives: with t = tanh(u), u = c(x + a x³), s = 1 − t², k = du/dx = c(1 + 3a x²):
 * GELU″ = s·k − x·t·s·k² + 3a·c·x²·s. Built from primitives, it differentiates to any order.
 */
function geluSecond(x: Tensor): Tensor {
  const x2 = mul(x, x);
  const t = tanh(mul(add(x, mul(mul(x2, x), GELU_A)), GELU_C));
  const s = sub(1, mul(t, t));
  const k = mul(add(mul(x2, 3 * GELU_A), 1), GELU_C);
  const sk = mul(s, k);
  return add(sub(sk, mul(mul(mul(x, t), sk), k)), mul(mul(x2, s), 3 * GELU_A * GELU_C));
}

/** GELU″(x) from one kernel: a constant, for a backward pass that builds no graph. */
function geluSecondConstant(x: Tensor): Tensor {
  const out = kernelOutput(x.dtype, x.size);
  kernel('geluSecond')(x.data, out, 0);
  return output('geluSecond', out, x.shape, [x]);
}

/**
 * g ⊙ GELU′(x) as one kernel: GELU's VJP. It is linear in g, so its VJP for g is itself (with the
 * upstream gradient in g's place); its VJP for x is h ⊙ g ⊙ GELU″(x), with GELU″ from one kernel
 * unless that backward pass builds a graph (third derivatives), which needs it in primitives.
 * `e` is what the forward saved for x (see `gelu`); it only saves the kernel recomputing it.
 */
function geluVjp(x: Tensor, g: Tensor, e?: Float64Array): Tensor {
  const out = kernelOutput(x.dtype, x.size);
  kernel('geluVjp')(x.data, g.data, out, e);
  const y = output('geluVjp', out, x.shape, [x, g]);
  return record(y, 'geluVjp', [x, g], (h, needs) => [
    needs[0] ? mul(mul(h, g), isGradEnabled() ? geluSecond(x) : geluSecondConstant(x)) : null,
    needs[1] ? geluVjp(x, h, e) : null,
  ]);
}

/**
 * GELU, tanh approximation (GPT-2; PyTorch's approximate='tanh'), as one kernel. When a gradient will
 * be taken of a float32 GELU, the forward keeps its exponentials (float64, 8 bytes per element until
 * the graph is dropped) so the backward does not compute them again; results are the same bits.
 */
export function gelu(x: Tensor): Tensor {
  expectTensor('gelu', 'x', x);
  const out = kernelOutput(x.dtype, x.size);
  // Only where the 'unary' backend computes GELU as the CPU reference does (the 'cpu' backend, or
  // 'wasm' and 'wasm-f32', which hand every op but tanh to it): the saved exponentials are that kernel's.
  const save =
    isGradEnabled() &&
    x.requiresGrad &&
    x.dtype === 'float32' &&
    ['cpu', 'wasm', 'wasm-f32'].includes(activeKernelBackend('unary'));
  if (!save) {
    kernel('unary')('gelu')(x.data, out, 0);
    return record(output('gelu', out, x.shape, [x]), 'gelu', [x], (g) => [geluVjp(x, g)]);
  }
  const e = kernelOutput('float64', x.size) as Float64Array;
  kernel('geluExp')(x.data, out, e);
  return record(output('gelu', out, x.shape, [x]), 'gelu', [x], (g) => [geluVjp(x, g, e)]);
}

function softmaxRaw(x: Tensor, log: boolean): Tensor {
  const cols = x.shape[x.rank - 1];
  const out = kernelOutput(x.dtype, x.size);
  if (x.size > 0) kernel('softmax')(x.data, x.size / cols, cols, out, log);
  return output(log ? 'logSoftmax' : 'softmax', out, x.shape, [x]);
}

/** Softmax over the last axis as one kernel; VJP y ⊙ (g − Σ g⊙y), also one kernel. */
export function softmaxLast(x: Tensor): Tensor {
  const y = softmaxRaw(x, false);
  return record(y, 'softmax', [x], (g) => [softmaxVjp(y, g)]);
}

/**
 * y ⊙ (g − Σ g⊙y) over the last axis as one kernel: the VJP of softmax (plain or causal) at output y.
 * Its Jacobian in g, diag(y) − yyᵀ, is symmetric, so its VJP for g is itself; its VJP for y is
 * h ⊙ (g − Σ g⊙y) − g·Σ h⊙y, written in primitives so it differentiates again.
 */
export function softmaxVjp(y: Tensor, g: Tensor): Tensor {
  const cols = y.shape[y.rank - 1];
  const out = kernelOutput(y.dtype, y.size);
  if (y.size > 0) kernel('softmaxVjp')(y.data, g.data, y.size / cols, cols, out);
  return record(output('softmaxVjp', out, y.shape, [y, g]), 'softmaxVjp', [y, g], (h, needs) => [
    needs[0] ? sub(mul(h, sub(g, sum(mul(g, y), -1, true))), mul(g, sum(mul(h, y), -1, true))) : null,
    needs[1] ? softmaxVjp(y, h) : null,
  ]);
}

/**
 * Causal softmax of attention scores x ([..., T, T]) as one kernel: row i of each [T, T] matrix is a
 * softmax over columns 0..i, with exact zeros after it. Equal to softmax(where(causalMask, x, −∞))
 * without the mask pass, the score copy or the masked exponentials. VJP as softmax's: the zeros of y
 * stop the gradient at masked entries.
 */
export function causalSoftmax(x: Tensor): Tensor {
  expectTensor('causalSoftmax', 'x', x);
  const t = x.shape[x.rank - 1];
  if (x.rank < 2 || x.shape[x.rank - 2] !== t) {
    throw new ShapeError(
      'causalSoftmax',
      `x must be [..., T, T] (square attention scores), got ${describeShape(x.shape)}`,
    );
  }
  const out = kernelOutput(x.dtype, x.size);
  if (x.size > 0) kernel('causalSoftmax')(x.data, x.size / t, t, out);
  const y = output('causalSoftmax', out, x.shape, [x]);
  return record(y, 'causalSoftmax', [x], (g) => [softmaxVjp(y, g)]);
}

/**
 * g − exp(y)·Σg from one kernel: a constant, for a backward pass that builds no graph — bit for bit
 * the primitives' result, without their three intermediate arrays and passes.
 */
function logSoftmaxVjpConstant(y: Tensor, g: Tensor): Tensor {
  const cols = y.shape[y.rank - 1];
  const out = kernelOutput(y.dtype, y.size);
  if (y.size > 0) kernel('logSoftmaxVjp')(y.data, g.data, y.size / cols, cols, out);
  return output('logSoftmaxVjp', out, y.shape, [y, g]);
}

/**
 * log-softmax over the last axis as one kernel; VJP g − softmax(x)·Σg = g − exp(y)·Σg, in primitives
 * when the backward pass builds a graph (double backward), else from one kernel.
 */
export function logSoftmaxLast(x: Tensor): Tensor {
  const y = softmaxRaw(x, true);
  return record(y, 'logSoftmax', [x], (g) => [
    isGradEnabled() ? sub(g, mul(exp(y), sum(g, -1, true))) : logSoftmaxVjpConstant(y, g),
  ]);
}

/**
 * (x − mean)/√(var + eps) over the last axis as one kernel. VJP: rstd·(g − mean(g) − x̂·mean(g⊙x̂)).
 * Without a graph being built the VJP uses the kernel's rstd as a constant; when building one (double
 * backward) it recomputes rstd from x in primitives, so second derivatives see its dependence on x.
 */
export function normalize(x: Tensor, eps: number): Tensor {
  expectTensor('normalize', 'x', x);
  const cols = x.shape[x.rank - 1];
  const rows = cols > 0 ? x.size / cols : 0;
  const xhat = kernelOutput(x.dtype, x.size);
  const rstdData = arrayFor(x.dtype, rows);
  if (x.size > 0) kernel('normalize')(x.data, rows, cols, eps, xhat, rstdData);
  const y = output('normalize', xhat, x.shape, [x]);
  const statShape = [...x.shape.slice(0, -1), 1];
  return record(y, 'normalize', [x], (g) => [
    isGradEnabled()
      ? normalizeVjpInPrimitives(x, y, g, eps)
      : normalizeVjpFormula(new Tensor(rstdData, statShape), y, g),
  ]);
}

function normalizeVjpFormula(rstd: Tensor, y: Tensor, g: Tensor): Tensor {
  return mul(rstd, sub(sub(g, mean(g, -1, true)), mul(y, mean(mul(g, y), -1, true))));
}

/**
 * normalize's VJP at x (with output y) for upstream g, with rstd recomputed from x in primitives, so
 * that a graph built from it sees rstd's dependence on x (double backward).
 */
export function normalizeVjpInPrimitives(x: Tensor, y: Tensor, g: Tensor, eps: number): Tensor {
  const centred = sub(x, mean(x, -1, true));
  const rstd = pow(add(mean(mul(centred, centred), -1, true), eps), -0.5);
  return normalizeVjpFormula(rstd, y, g);
}
