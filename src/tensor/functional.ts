/**
 * Composite ops built from the primitives, so their VJPs are differentiable to any order:
 * softmax, logSoftmax, logsumexp, gelu (tanh form), layerNorm, cross-entropy and mean-squared error.
 */
import { ShapeError, describeShape } from './errors.js';
import { add, div, exp, log, mul, stopGradient, sub } from './ops/elementwise.js';
import { gelu, logSoftmaxLast, softmaxLast } from './ops/fused.js';
import { gather } from './ops/indexing.js';
import { fusedLayerNorm } from './ops/layer-norm.js';
import { reshape } from './ops/layout.js';
import { max, mean, sum } from './ops/reduce.js';
import { expectTensor } from './ops/common.js';
import { Tensor } from './tensor.js';

/**
 * log Σ exp(x) over `axis`, stable: the max is subtracted as a constant. That is exact for the
 * derivatives too, since the true gradient does not depend on the shift.
 */
export function logsumexp(x: Tensor, axis = -1, keepdims = false): Tensor {
  const m = stopGradient(max(x, axis, true));
  const s = add(log(sum(exp(sub(x, m)), axis, true)), m);
  return keepdims
    ? s
    : reshape(
        s,
        x.shape.filter((_, i) => i !== (axis < 0 ? axis + x.rank : axis)),
      );
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  if (axis === -1 || axis === x.rank - 1) return logSoftmaxLast(x);
  return sub(x, logsumexp(x, axis, true));
}

export function softmax(x: Tensor, axis = -1): Tensor {
  if (axis === -1 || axis === x.rank - 1) return softmaxLast(x);
  const e = exp(sub(x, stopGradient(max(x, axis, true))));
  return div(e, sum(e, axis, true));
}

/**
 * Layer normalisation over the last axis, with learned gain and bias of the last axis' size: the fused
 * kernel (one pass forward, one backward pass without a graph; differentiable again when one is built).
 */
export const layerNorm = fusedLayerNorm;

/**
 * Mean cross-entropy of `logits` ([..., C]) against integer `targets` (one per prediction, in [0, C)).
 * Picks each row's log-probability with a gather, whose adjoint is a sparse scatter-add.
 */
export function crossEntropy(logits: Tensor, targets: Int32Array): Tensor {
  expectTensor('crossEntropy', 'logits', logits);
  const classes = logits.shape[logits.rank - 1];
  const rows = logits.size / classes;
  if (logits.rank < 1 || targets.length !== rows) {
    throw new ShapeError(
      'crossEntropy',
      `logits ${describeShape(logits.shape)} hold ${rows} predictions but ${targets.length} targets were given`,
    );
  }
  const flatIndex = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const t = targets[i];
    if (!Number.isInteger(t) || t < 0 || t >= classes) {
      throw new RangeError(`crossEntropy: target ${t} at position ${i} is out of range [0, ${classes})`);
    }
    flatIndex[i] = i * classes + t;
  }
  const logp = reshape(logSoftmax(reshape(logits, [rows, classes])), [rows * classes, 1]);
  return mul(sum(gather(logp, flatIndex)), -1 / rows);
}

/** Mean squared error between same-shaped tensors. */
export function mse(pred: Tensor, target: Tensor): Tensor {
  if (pred.size !== target.size) {
    throw new ShapeError(
      'mse',
      `pred ${describeShape(pred.shape)} and target ${describeShape(target.shape)} differ in size`,
    );
  }
  const d = sub(pred, reshape(target, pred.shape));
  return mean(mul(d, d));
}

export { gelu };
