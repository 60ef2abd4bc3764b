/**
 * The shard arithmetic shared by the reference loop, the gradient workers and the streaming pipeline.
 * All call exactly these functions, in the same order, on the same values, so their parameters agree
 * bit for bit no matter how many workers computed the shards or in which order they finished.
 *
 * A step's gradient is defined as the ordered shard reduction Σ_s ∇L_s with L_s = −(1/P)·Σ_{i∈s} log p_i
 * (P = predictions in the whole batch). The shard set is fixed by `shards` (not by the worker count), so
 * the reduction never depends on scheduling. With one shard, L_0 is built from the very ops
 * `crossEntropy` uses, so the gradient equals `Trainer`'s mean cross-entropy gradient bit for bit.
 */
import type { Batch } from '../data/batch.js';
import type { Model, ModelInputs } from '../nn/model.js';
import { addVectorInto } from '../optim/apply.js';
import type { ArrayPool } from '../optim/array-pool.js';
import { valueAndGrad } from '../tensor/autodiff.js';
import { withScratch } from '../tensor/scratch.js';
import { NonFiniteError, ShapeError, describeShape } from '../tensor/errors.js';
import { logSoftmax } from '../tensor/functional.js';
import { mul } from '../tensor/ops/elementwise.js';
import { gather } from '../tensor/ops/indexing.js';
import { reshape } from '../tensor/ops/layout.js';
import { sum } from '../tensor/ops/reduce.js';
import { Tensor } from '../tensor/tensor.js';
import type { ShardGradient } from './records.js';

/** Row ranges [start, end) of the shards of a batch of `rows` samples; never more shards than rows. */
export function shardRanges(rows: number, shards: number): [number, number][] {
  const n = Math.max(1, Math.min(shards, rows));
  const out: [number, number][] = [];
  for (let s = 0; s < n; s++) out.push([Math.floor((s * rows) / n), Math.floor(((s + 1) * rows) / n)]);
  return out;
}

/** Copies rows [start, end) of a batch into a new batch (own buffers, so it can be transferred). */
export function sliceBatch(batch: Batch, start: number, end: number): Batch {
  const rows = batch.inputShape[0];
  const inPer = batch.inputs.length / rows;
  const outPer = batch.targets.length / rows;
  return {
    inputs: batch.inputs.slice(start * inPer, end * inPer),
    inputShape: [end - start, ...batch.inputShape.slice(1)],
    targets: batch.targets.slice(start * outPer, end * outPer),
    targetShape: [end - start, ...batch.targetShape.slice(1)],
  };
}

/** Rows [start, end) of a batch as views of its arrays (no copy; never transfer them). */
export function viewBatch(batch: Batch, start: number, end: number): Batch {
  const rows = batch.inputShape[0];
  const inPer = batch.inputs.length / rows;
  const outPer = batch.targets.length / rows;
  return {
    inputs: batch.inputs.subarray(start * inPer, end * inPer),
    inputShape: [end - start, ...batch.inputShape.slice(1)],
    targets: batch.targets.subarray(start * outPer, end * outPer),
    targetShape: [end - start, ...batch.targetShape.slice(1)],
  };
}

/**
 * The shards of a batch, in shard order, as views of the batch: every consumer only reads them (the
 * gradient pool copies each into its shared slot), so copying rows here would be wasted work.
 */
export function shardBatch(batch: Batch, shards: number): Batch[] {
  return shardRanges(batch.inputShape[0], shards).map(([a, b]) => viewBatch(batch, a, b));
}

/**
 * The shard's part of the batch-mean cross-entropy: −(1/totalPredictions)·Σ log p over the shard.
 * Same op sequence as `crossEntropy` (whose scale is −1/rows), so one shard reproduces it exactly.
 */
export function shardLossFunction(
  model: Model,
  inputs: ModelInputs,
  targets: Int32Array,
  totalPredictions: number,
): (flat: Tensor) => Tensor {
  return (flat) => {
    const logits = model.logits(model.layout.unflatten(flat), inputs);
    const classes = model.numClasses;
    const rows = logits.size / classes;
    if (targets.length !== rows) {
      throw new ShapeError(
        'loss',
        `logits ${describeShape(logits.shape)} make ${rows} predictions but ${targets.length} targets were given`,
      );
    }
    const flatIndex = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      const t = targets[i];
      if (!Number.isInteger(t) || t < 0 || t >= classes)
        throw new RangeError(`crossEntropy: target ${t} at position ${i} is out of range [0, ${classes})`);
      flatIndex[i] = i * classes + t;
    }
    const logp = reshape(logSoftmax(reshape(logits, [rows, classes])), [rows * classes, 1]);
    return mul(sum(gather(logp, flatIndex)), -1 / totalPredictions);
  };
}

/**
 * The value and gradient of the loss `f` at `params` (read, never written). An op that raised
 * NonFiniteError (per-op checks on) makes a non-finite result: the step is then skipped.
 */
export function lossAndGradient(
  f: (flat: Tensor) => Tensor,
  params: Float32Array,
  /** Where the gradient's array comes from, when the caller recycles (array-pool.ts). */
  arrays?: ArrayPool,
): ShardGradient {
  try {
    // The passes' intermediates live in scratch memory; the gradient leaves as a copy.
    return withScratch(() => {
      const [y, g] = valueAndGrad(f)(new Tensor(params, [params.length]));
      const data = g.data as Float32Array;
      const grad = arrays ? arrays.take(data.length) : new Float32Array(data.length);
      grad.set(data);
      return { loss: y.item(), grad, nonFinite: false };
    });
  } catch (e) {
    if (!(e instanceof NonFiniteError)) throw e;
    return { loss: NaN, grad: new Float32Array(0), nonFinite: true };
  }
}

/** Loss part and gradient of one shard at `params` (read, never written). */
export function shardGradient(
  model: Model,
  params: Float32Array,
  shard: Batch,
  totalPredictions: number,
): ShardGradient {
  const inputs = { data: shard.inputs, shape: shard.inputShape };
  return lossAndGradient(
    shardLossFunction(model, inputs, shard.targets as Int32Array, totalPredictions),
    params,
  );
}

/**
 * Sums shard results in shard order (index 0 first); any non-finite shard makes the step non-finite.
 * With `owned`, the caller hands over `parts[0].grad` (a fresh array nobody else holds) and the sum is
 * built in it instead of in a copy; the arithmetic, and so every bit of the result, is the same. Without
 * it the parts may be views of reused buffers (the gradient pool's result slots): they are only read,
 * and the sum is built in an array from `arrays` when given.
 */
export function reduceShards(
  parts: readonly ShardGradient[],
  owned = false,
  arrays?: ArrayPool,
): ShardGradient {
  if (parts.length === 0) throw new RangeError('reduceShards: no shards');
  if (parts.some((p) => p.nonFinite)) return { loss: NaN, grad: new Float32Array(0), nonFinite: true };
  let loss = parts[0].loss;
  let grad = parts[0].grad;
  if (!owned) {
    grad = arrays ? arrays.take(grad.length) : new Float32Array(grad.length);
    grad.set(parts[0].grad);
  }
  for (let s = 1; s < parts.length; s++) {
    loss += parts[s].loss;
    const g = parts[s].grad;
    if (g.length !== grad.length)
      throw new RangeError(`reduceShards: shard ${s} gradient has ${g.length} values, want ${grad.length}`);
    addVectorInto(grad, g);
  }
  return { loss, grad, nonFinite: false };
}

/** The gradient of a batch as the ordered shard reduction, computed in this thread. */
export function batchGradient(
  model: Model,
  params: Float32Array,
  batch: Batch,
  shards: number,
): ShardGradient {
  const total = batch.targets.length;
  // The shard gradients are fresh arrays of this call, so the sum may be built in the first.
  return reduceShards(
    shardBatch(batch, shards).map((s) => shardGradient(model, params, s, total)),
    true,
  );
}
