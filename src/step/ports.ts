/**
 * The two ports through which a runner gets a step's work done: `gradient(step, batch)`, the step's loss
 * and gradient at θ_step, and `probe(task)`, a curvature estimate. The runners differ only in their
 * ports: Trainer's are inline (the mean cross-entropy in this thread), referenceLoop's inline-sharded
 * (the ordered shard reduction in this thread), the pipeline's a worker pool (src/pipeline/pool-ports.ts).
 * A remote pool is one more implementation of the same ports; nothing that applies steps changes.
 */
import type { ObservableInput } from 'rxjs';
import type { Batch } from '../data/batch.js';
import { lossFunction, type Model } from '../nn/model.js';
import type { ArrayPool } from '../optim/array-pool.js';
import { NonFiniteError } from '../tensor/errors.js';
import { type CurvatureEstimator, estimateCurvature, resolveCurvature } from './curvature-schedule.js';
import type { ProbeBackend, ProbeOutcome, ShardGradient } from './records.js';
import { batchGradient, lossAndGradient } from './shards.js';

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
  /** The step's loss and gradient; the gradient is a fresh array the runner owns from then on. */
  gradient(step: number, batch: Batch): G;
  probe(task: ProbeTask): P;
}

/** A probe's outcome as a pool delivers it, with where and how long it was computed (metadata only). */
export interface ProbeResult extends ProbeOutcome {
  /** Which backend computed the estimate; absent when the pool computes on the CPU only. */
  backend?: ProbeBackend;
  /** What the probe's worker logged while computing it (backend chosen and why, a fallback). */
  notes?: string[];
  /** Seconds the worker spent computing the estimate (no queueing, no transfers). */
  seconds?: number;
}

/**
 * The ports of an asynchronous runner (the pipeline's Coordinator): a pool of workers, local or remote.
 * The gradient port works per shard, because the shard set and its reduction order belong to the step's
 * arithmetic (src/step/shards.ts), not to the pool: the coordinator sends every shard of step t once
 * θ_t is published as version t and reduces the answers in shard order. A shard's answer may be a view
 * of a reused buffer, valid until the next task of the same shard index; a failed task errors (after
 * whatever retries the pool makes).
 */
export interface PoolPorts {
  gradient(
    step: number,
    shardIndex: number,
    shard: Batch,
    totalPredictions: number,
  ): ObservableInput<ShardGradient>;
  /** `task.params` is the coordinator's private copy of θ_step, the pool's to keep or transfer. */
  probe(task: ProbeTask): ObservableInput<ProbeResult>;
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

/**
 * Trainer's ports: the model's own loss (mean cross-entropy) and its gradient at `params()`, in an
 * array taken from `arrays` when given (the runner gives it back after the step).
 */
export function inlinePorts(model: Model, params: () => Float32Array, arrays?: ArrayPool): StepPorts {
  return {
    gradient: (_step, batch) => {
      const inputs = { data: batch.inputs, shape: batch.inputShape };
      return lossAndGradient(lossFunction(model, inputs, batch.targets as Int32Array), params(), arrays);
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
