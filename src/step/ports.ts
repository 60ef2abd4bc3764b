/**
 * The two ports through which a runner gets a step's work done: `gradient(step, batch)`, the step's loss
 * and gradient at θ_step, and `probe(task)`, a curvature estimate. The runners differ only in their
 * ports: Trainer's are inline (the mean cross-entropy in this thread), referenceLoop's inline-sharded
 * (the ordered shard reduction in this thread), the pipeline's a worker pool (src/pipeline/pool-ports.ts).
 * A remote pool is one more implementation of the same ports; nothing that applies steps changes.
 */
import type { Batch } from '../data/batch.js';
import { lossFunction, type Model } from '../nn/model.js';
import { valueAndGrad } from '../tensor/autodiff.js';
import { NonFiniteError } from '../tensor/errors.js';
import { withScratch } from '../tensor/scratch.js';
import { Tensor } from '../tensor/tensor.js';
import { type CurvatureEstimator, estimateCurvature, resolveCurvature } from './curvature-schedule.js';
import type { ProbeOutcome, ShardGradient } from './records.js';
import { batchGradient } from './shards.js';

/** A curvature probe to run: the estimate launched at `step` on θ_step and that step's batch. */
export interface ProbeTask {
  estimator: CurvatureEstimator;
  step: number;
  seed: number;
  /** Hutchinson probes per estimate. */
  probes: number;
  /** θ_step: a private copy wherever the probe may outlive its step (a pool), the live θ inline. */
  params: Float32Array;
  batch: Batch;
}

/** `G` and `P` are the plain results for the synchronous runners, something awaitable for a pool. */
export interface StepPorts<G = ShardGradient, P = ProbeOutcome> {
  gradient(step: number, batch: Batch): G;
  probe(task: ProbeTask): P;
}

export const NON_FINITE_GRADIENT: ShardGradient = {
  loss: NaN,
  grad: new Float32Array(0),
  nonFinite: true,
};

/** `estimateCurvature` in this thread; an op that hits NaN/Inf makes a non-finite outcome. */
export function inlineProbe(model: Model, task: ProbeTask): ProbeOutcome {
  const c = resolveCurvature({ estimator: task.estimator, probes: task.probes, every: 1, first: 0 });
  try {
    const e = estimateCurvature(c, model, task.params, task.batch, task.seed, task.step);
    return { ...e, nonFinite: false };
  } catch (e) {
    if (!(e instanceof NonFiniteError)) throw e;
    return { diag: new Float32Array(0), nonFinite: true };
  }
}

/** Trainer's ports: the model's own loss (mean cross-entropy) and its gradient at `params()`. */
export function inlinePorts(model: Model, params: () => Float32Array): StepPorts {
  return {
    gradient: (_step, batch) => {
      const f = lossFunction(
        model,
        { data: batch.inputs, shape: batch.inputShape },
        batch.targets as Int32Array,
      );
      const theta = params();
      try {
        // The passes' intermediates live in scratch memory; the gradient leaves as a copy.
        return withScratch(() => {
          const [y, g] = valueAndGrad(f)(new Tensor(theta, [theta.length]));
          return { loss: y.item(), grad: (g.data as Float32Array).slice(), nonFinite: false };
        });
      } catch (e) {
        // An op that produced NaN/Inf (per-op checks on) makes this a non-finite step: skipped.
        if (!(e instanceof NonFiniteError)) throw e;
        return NON_FINITE_GRADIENT;
      }
    },
    probe: (task) => inlineProbe(model, task),
  };
}

/** referenceLoop's ports: the ordered reduction over a fixed number of shards, in this thread. */
export function inlineShardedPorts(model: Model, params: () => Float32Array, shards: number): StepPorts {
  return {
    gradient: (_step, batch) => batchGradient(model, params(), batch, shards),
    probe: (task) => inlineProbe(model, task),
  };
}
