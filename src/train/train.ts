/**
 * The synchronous training loop: the reference semantics that the streaming pipeline reproduces bit
 * for bit. Each step validates its batch, computes loss and gradient, launches/applies curvature
 * estimates on their schedule, and applies the optimizer. A step whose loss, gradient, update or new
 * optimizer state is not finite is skipped and counted, never applied (state and θ unchanged).
 */
import type { Batch } from '../data/batch.js';
import type { GpuBackendKind } from '../gpu/host/backend.js';
import { validateBatch, type BatchSpec } from '../data/validate.js';
import { initialParams, lossFunction, type Model } from '../nn/model.js';
import { tensorLayoutOf } from '../nn/tensor-layout.js';
import { applyUpdates } from '../optim/apply.js';
import { normIfFinite } from '../optim/clip.js';
import { stateIsFinite } from '../optim/finite-state.js';
import { findStats } from '../optim/stats.js';
import type { GradientTransformation } from '../optim/transform.js';
import { valueAndGrad } from '../tensor/autodiff.js';
import { withScratch } from '../tensor/scratch.js';
import { NonFiniteError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import {
  type CurvatureConfig,
  type CurvatureEstimate,
  estimateCurvature,
  estimateExtra,
  estimateFinite,
  launchesAt,
  queuedEstimate,
  resolveCurvature,
} from './curvature-schedule.js';
import { type EvalResult, evaluate } from './evaluate.js';

export interface TrainConfig<S = unknown> {
  model: Model;
  optimizer: GradientTransformation<S>;
  /** The batch of step t: a pure function of t, so runs are reproducible and resumable. */
  batchAt: (step: number) => Batch;
  /** Number of steps to run in total (a resumed run continues up to this step). */
  steps: number;
  seed?: number;
  /** Checks each batch before use; a bad batch throws a BatchValidationError and changes nothing. */
  batchSpec?: BatchSpec;
  curvature?: CurvatureConfig;
  evaluation?: { every: number; batches: readonly Batch[] };
  /** Resume: parameters, optimizer state, next step and estimates still in flight. */
  resume?: TrainState<S>;
  initialParams?: Float32Array;
}

export interface TrainState<S = unknown> {
  params: Float32Array;
  optState: S;
  step: number;
  pending: CurvatureEstimate[];
  skipped: number;
}

export interface StepMetrics {
  step: number;
  loss: number;
  gradNorm: number;
  updateNorm: number;
  /** Predictions in the batch (tokens for an LM). */
  predictions: number;
  skipped: boolean;
  /** Set on steps where a curvature estimate was applied: how many steps after its launch. */
  curvatureStaleness?: number;
  /**
   * Pipeline with gpu other than 'cpu', on steps where an estimate was applied: the backend that
   * computed it ('cpu' also after a GPU failure).
   */
  probeBackend?: GpuBackendKind;
  /** With `probeBackend`: what the probe worker logged while computing that estimate (backend chosen
   * and why, why it fell back to the CPU). */
  probeNotes?: string[];
  winRate?: number;
  hMean?: number;
  eval?: EvalResult;
  ms: number;
}

/** Runs the loop lazily: each `next()` performs one step and yields its metrics; `state()` reads the current state. */
export class Trainer<S = unknown> {
  private current: TrainState<S>;
  private readonly curvature;
  private readonly seed: number;

  constructor(private readonly config: TrainConfig<S>) {
    this.seed = config.seed ?? 0;
    this.curvature = config.curvature ? resolveCurvature(config.curvature) : null;
    if (!Number.isInteger(config.steps) || config.steps < 0)
      throw new RangeError(`train: steps must be a non-negative integer, got ${config.steps}`);
    if (config.resume) {
      this.current = {
        ...config.resume,
        params: config.resume.params.slice(),
        pending: [...config.resume.pending],
      };
    } else {
      const params =
        config.initialParams?.slice() ?? (initialParams(config.model, this.seed) as Float32Array);
      if (params.length !== config.model.layout.size) {
        throw new RangeError(
          `train: initialParams has ${params.length} values, the model has ${config.model.layout.size}`,
        );
      }
      this.current = {
        params,
        optState: config.optimizer.init(params, tensorLayoutOf(config.model)),
        step: 0,
        pending: [],
        skipped: 0,
      };
    }
  }

  state(): TrainState<S> {
    return this.current;
  }

  done(): boolean {
    return this.current.step >= this.config.steps;
  }

  /** One step. Throws (changing nothing) when the batch is invalid. */
  step(): StepMetrics {
    const { model, optimizer } = this.config;
    const t0 = performance.now();
    const s = this.current;
    const t = s.step;
    const batch = this.config.batchAt(t);
    if (this.config.batchSpec) validateBatch(batch, this.config.batchSpec);
    const targets = batch.targets as Int32Array;
    const predictions = targets.length;

    let estimate: CurvatureEstimate | null = null;
    let loss = NaN;
    let grad: Float32Array = new Float32Array(0);
    const launches = this.curvature !== null && launchesAt(this.curvature, t);
    if (launches) {
      try {
        estimate = estimateCurvature(this.curvature!, model, s.params, batch, this.seed, t);
      } catch (e) {
        // A probe that hits NaN/Inf (per-op checks on) loses its estimate; the step goes on with its own
        // gradient, as in the pipeline, where the probe runs beside the step and may finish after it.
        if (!(e instanceof NonFiniteError)) throw e;
      }
    }
    try {
      if (launches && this.curvature!.estimator === 'hutchinson') {
        // Hutchinson's probe computes the loss and gradient with its HVP; without them the step is skipped.
        if (estimate?.grad && estimate.loss !== undefined) {
          loss = estimate.loss;
          grad = estimate.grad;
        }
      } else {
        const f = lossFunction(model, { data: batch.inputs, shape: batch.inputShape }, targets);
        // The passes' intermediates live in scratch memory; the gradient leaves as a copy.
        [loss, grad] = withScratch(() => {
          const [y, g] = valueAndGrad(f)(new Tensor(s.params, [s.params.length]));
          return [y.item(), (g.data as Float32Array).slice()] as const;
        });
      }
    } catch (e) {
      // An op that produced NaN/Inf (per-op checks on) makes this a non-finite step: skipped below.
      if (!(e instanceof NonFiniteError)) throw e;
    }
    // A step whose gradient failed drops the estimate launched with it.
    if (grad.length === 0) estimate = null;
    const pending = estimate ? [...s.pending, queuedEstimate(estimate)] : s.pending;
    const stalenessOf = this.curvature?.staleness ?? 0;
    const due = pending.find((e) => e.launchedAt + stalenessOf === t);
    const g = grad.length > 0 ? normIfFinite(grad) : { norm: NaN, finite: true };
    const gradNorm = g.norm;
    const metrics: StepMetrics = {
      step: t,
      loss,
      gradNorm,
      updateNorm: 0,
      predictions,
      skipped: false,
      ms: 0,
    };

    let next: TrainState<S>;
    const extra = {
      batchSize: predictions,
      loss,
      ...estimateExtra(due ?? null, this.curvature?.estimator),
    };
    const finite =
      Number.isFinite(loss) && grad.length === s.params.length && g.finite && (!due || estimateFinite(due));
    const [updates, optState] = finite
      ? optimizer.update(grad, s.optState, s.params, extra)
      : [null, s.optState];
    const u = updates ? normIfFinite(updates) : null;
    if (!updates || !u?.finite || !stateIsFinite(optState, s.optState)) {
      // Never apply a non-finite step (nor keep a non-finite optimizer state); an estimate due now is
      // dropped with it.
      metrics.skipped = true;
      next = { ...s, step: t + 1, pending: pending.filter((e) => e !== due), skipped: s.skipped + 1 };
    } else {
      metrics.updateNorm = u!.norm;
      if (due) metrics.curvatureStaleness = t - due.launchedAt;
      const stats = findStats(optState);
      if (stats) {
        metrics.winRate = stats.winRate;
        metrics.hMean = stats.hMean;
      }
      next = {
        params: applyUpdates(s.params, updates),
        optState,
        step: t + 1,
        pending: pending.filter((e) => e !== due),
        skipped: s.skipped,
      };
    }
    this.current = next;
    const ev = this.config.evaluation;
    if (ev && (next.step % ev.every === 0 || next.step === this.config.steps))
      metrics.eval = evaluate(model, next.params, ev.batches);
    metrics.ms = performance.now() - t0;
    return metrics;
  }

  *[Symbol.iterator](): Iterator<StepMetrics> {
    while (!this.done()) yield this.step();
  }
}

/** Runs all steps; returns the final state and every step's metrics. */
export function train<S>(
  config: TrainConfig<S>,
  onStep?: (m: StepMetrics) => void,
): { state: TrainState<S>; history: StepMetrics[] } {
  const trainer = new Trainer(config);
  const history: StepMetrics[] = [];
  for (const m of trainer) {
    history.push(m);
    onStep?.(m);
  }
  return { state: trainer.state(), history };
}
