/**
 * The synchronous step runner: one step of a `StepState` on a batch, through a runner's ports. It
 * validates the batch, launches the curvature probe on its schedule (on θ_t), takes the step's gradient
 * (Hutchinson's probe computes it with its HVP, so on its launch steps the probe's is used), queues the
 * estimate, picks the one due and applies the step rule. Trainer and referenceLoop are this runner with
 * different ports; the pipeline's coordinator applies the same rule as its steps arrive.
 */
import type { Batch } from '../data/batch.js';
import { type BatchSpec, validateBatch } from '../data/validate.js';
import type { Model } from '../nn/model.js';
import type { ArrayPool } from '../optim/array-pool.js';
import type { GradientTransformation } from '../optim/transform.js';
import { applyStep, dueAt } from './apply.js';
import {
  type CurvatureConfig,
  type ResolvedCurvature,
  launchesAt,
  queuedEstimate,
} from './curvature-schedule.js';
import { NON_FINITE_GRADIENT, type StepPorts } from './ports.js';
import type { ShardGradient, StepMetrics, StepState } from './records.js';

/** What a synchronous loop (Trainer, referenceLoop) is configured with. */
export interface LoopConfig<S = unknown> {
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
  initialParams?: Float32Array;
}

export interface StepRunnerOptions<S> {
  optimizer: GradientTransformation<S>;
  curvature: ResolvedCurvature | null;
  seed: number;
  /** Checks each batch before use; a bad batch throws a BatchValidationError and changes nothing. */
  batchSpec?: BatchSpec;
}

/**
 * Step `state.step` on `batch`: mutates `state` (θ in place) and returns the step's metrics (`ms` 0).
 * Throws, changing nothing, when the batch is invalid.
 */
export function runStep<S>(
  state: StepState<S>,
  batch: Batch,
  ports: StepPorts,
  o: StepRunnerOptions<S>,
  /**
   * A pool for a runner that owns `state` alone: the optimizer takes its arrays from it, and the state
   * this step replaces, the updates and the gradient go back to it (array-pool.ts). Without one, every
   * array is fresh and the replaced state stays intact for whoever holds it.
   */
  arrays?: ArrayPool,
): StepMetrics {
  const t = state.step;
  if (o.batchSpec) validateBatch(batch, o.batchSpec);
  const c = o.curvature;
  const launches = c !== null && launchesAt(c, t);
  const outcome = launches
    ? ports.probe({
        estimator: c.estimator,
        step: t,
        seed: o.seed,
        probes: c.probes,
        params: state.params,
        batch,
      })
    : null;
  // A probe that hits NaN/Inf (per-op checks on) loses its estimate; the step goes on with its own
  // gradient, as in the pipeline, where the probe runs beside the step and may finish after it.
  const estimate = outcome && !outcome.nonFinite ? outcome : null;
  // Hutchinson's probe computes the step's loss and gradient with its HVP.
  const gradientFromProbe = launches && c.estimator === 'hutchinson';
  let gradient: ShardGradient;
  if (gradientFromProbe) {
    // Without the probe's loss and gradient the step is skipped.
    gradient =
      estimate?.grad && estimate.loss !== undefined
        ? { loss: estimate.loss, grad: estimate.grad, nonFinite: false }
        : NON_FINITE_GRADIENT;
  } else {
    gradient = ports.gradient(t, batch);
  }
  // A step whose gradient failed drops the estimate launched with it.
  if (estimate && !gradient.nonFinite)
    state.pending = [...state.pending, queuedEstimate({ ...estimate, launchedAt: t })];
  const due = dueAt(state.pending, t, c?.staleness ?? 0);
  const metrics = applyStep(state, o.optimizer, gradient, batch.targets.length, due, arrays, c?.estimator);
  // The gradient port's array is the runner's; the probe's comes with its outcome and is left alone.
  if (arrays && !gradientFromProbe) arrays.give(gradient.grad);
  return metrics;
}
