/**
 * The synchronous reference loop for the pipeline: `Trainer`'s semantics (validation, curvature
 * schedule, delayed application, skipped non-finite steps, Hutchinson's free loss and gradient) with the
 * step gradient defined as the ordered shard reduction of `step-math.ts`. With `shards: 1` it equals
 * `Trainer` bit for bit; with any `shards` the pipeline equals it bit for bit for any worker count.
 */
import type { Batch } from '../data/batch.js';
import { validateBatch, type BatchSpec } from '../data/validate.js';
import { initialParams, type Model } from '../nn/model.js';
import { tensorLayoutOf } from '../nn/tensor-layout.js';
import type { GradientTransformation } from '../optim/transform.js';
import { NonFiniteError } from '../tensor/errors.js';
import {
  type CurvatureConfig,
  type CurvatureEstimate,
  estimateCurvature,
  launchesAt,
  resolveCurvature,
} from '../train/curvature-schedule.js';
import type { StepMetrics } from '../train/train.js';
import { type ShardGradient, type StepState, applyStep, batchGradient } from './step-math.js';

export interface ReferenceConfig<S> {
  model: Model;
  optimizer: GradientTransformation<S>;
  batchAt: (step: number) => Batch;
  steps: number;
  seed?: number;
  /** Fixed number of gradient shards per batch (default 4). */
  shards?: number;
  batchSpec?: BatchSpec;
  curvature?: CurvatureConfig;
  initialParams?: Float32Array;
}

export function referenceLoop<S>(config: ReferenceConfig<S>): {
  state: StepState<S>;
  history: StepMetrics[];
} {
  const { model, optimizer } = config;
  const seed = config.seed ?? 0;
  const shards = config.shards ?? 4;
  const curvature = config.curvature ? resolveCurvature(config.curvature) : null;
  const params = (config.initialParams?.slice() ?? initialParams(model, seed)) as Float32Array;
  const state: StepState<S> = {
    params,
    optState: optimizer.init(params, tensorLayoutOf(model)),
    step: 0,
    pending: [],
    skipped: 0,
  };
  const history: StepMetrics[] = [];
  while (state.step < config.steps) {
    const t0 = performance.now();
    const t = state.step;
    const batch = config.batchAt(t);
    if (config.batchSpec) validateBatch(batch, config.batchSpec);
    let estimate: CurvatureEstimate | null = null;
    let gradient: ShardGradient;
    const launches = curvature !== null && launchesAt(curvature, t);
    if (launches) {
      try {
        estimate = estimateCurvature(curvature, model, state.params, batch, seed, t);
      } catch (e) {
        // A probe that hits NaN/Inf loses its estimate, as in Trainer; the step itself is skipped only
        // when the probe also carried its gradient (Hutchinson).
        if (!(e instanceof NonFiniteError)) throw e;
      }
    }
    if (launches && curvature.estimator === 'hutchinson') {
      gradient =
        estimate?.grad && estimate.loss !== undefined
          ? { loss: estimate.loss, grad: estimate.grad, nonFinite: false }
          : { loss: NaN, grad: new Float32Array(0), nonFinite: true };
    } else {
      gradient = batchGradient(model, state.params, batch, shards);
    }
    // As in Trainer: a step whose gradient failed drops the estimate launched with it.
    if (estimate && !gradient.nonFinite)
      state.pending = [...state.pending, { diag: estimate.diag, launchedAt: t }];
    const staleness = curvature?.staleness ?? 0;
    const due = state.pending.find((e) => e.launchedAt + staleness === t) ?? null;
    const m = applyStep(state, optimizer, gradient, batch.targets.length, due);
    m.ms = performance.now() - t0;
    history.push(m);
  }
  return { state, history };
}
