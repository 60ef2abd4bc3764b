/**
 * Fused primitives for the composites that dominate transformer training time: softmax, logSoftmax
 * and GELU each run as one kernel instead of a chain of elementwise ops. Their VJPs are written in
 * differentiable ops (and GELU′ is itself a primitive whose VJP is GELU″ built from primitives), so
 * double backward — exact Hessian-vector products — works through them exactly as through the
 * composites they replace.
 */
import { kernel } from '../../kernels/registry.js';
import { isGradEnabled, record } from '../graph.js';
import { Tensor, arrayFor } from '../tensor.js';
import { expectTensor, output } from './common.js';
import { add, exp, mul, pow, sub, tanh } from './elementwise.js';
import { mean, sum } from './reduce.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

function unaryFused(op: 'gelu' | 'geluGrad', x: Tensor): Tensor {
  const out = arrayFor(x.dtype, x.size);
  kernel('unary')(op)(x.data, out, 0);
  return output(op, out, x.shape, [x]);
}

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

function geluGrad(x: Tensor): Tensor {
  return record(unaryFused('geluGrad', x), 'geluGrad', [x], (g) => [mul(g, geluSecond(x))]);
}

/** GELU, tanh approximation (GPT-2; PyTorch's approximate='tanh'), as one kernel. */
export function gelu(x: Tensor): Tensor {
  expectTensor('gelu', 'x', x);
  return record(unaryFused('gelu', x), 'gelu', [x], (g) => [mul(g, geluGrad(x))]);
}

function softmaxRaw(x: Tensor, log: boolean): Tensor {
  const cols = x.shape[x.rank - 1];
  const out = arrayFor(x.dtype, x.size);
  if (x.size > 0) kernel('softmax')(x.data, x.size / cols, cols, out, log);
  return output(log ? 'logSoftmax' : 'softmax', out, x.shape, [x]);
}

/** Softmax over the last axis as one kernel; VJP y ⊙ (g − Σ g⊙y). */
export function softmaxLast(x: Tensor): Tensor {
  const y = softmaxRaw(x, false);
  return record(y, 'softmax', [x], (g) => [mul(y, sub(g, sum(mul(g, y), -1, true)))]);
}

/** log-softmax over the last axis as one kernel; VJP g − softmax(x)·Σg = g − exp(y)·Σg. */
export function logSoftmaxLast(x: Tensor): Tensor {
  const y = softmaxRaw(x, true);
  return record(y, 'logSoftmax', [x], (g) => [sub(g, mul(exp(y), sum(g, -1, true)))]);
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
  const xhat = arrayFor(x.dtype, x.size);
  const rstdData = arrayFor(x.dtype, rows);
  if (x.size > 0) kernel('normalize')(x.data, rows, cols, eps, xhat, rstdData);
  const y = output('normalize', xhat, x.shape, [x]);
  const statShape = [...x.shape.slice(0, -1), 1];
  return record(y, 'normalize', [x], (g) => {
    let rstd: Tensor;
    if (isGradEnabled()) {
      const centred = sub(x, mean(x, -1, true));
      rstd = pow(add(mean(mul(centred, centred), -1, true), eps), -0.5);
    } else rstd = new Tensor(rstdData, statShape);
    return [mul(rstd, sub(sub(g, mean(g, -1, true)), mul(y, mean(mul(g, y), -1, true))))];
  });
}
