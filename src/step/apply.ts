/**
 * The step rule, written once: every runner (Trainer, referenceLoop, the pipeline's coordinator) folds
 * its gradient and due estimate into θ through `applyStep`, so the finite checks, the skip semantics and
 * what an estimate hands the optimizer cannot drift apart between them.
 */
import { applyUpdatesInPlace } from '../optim/apply.js';
import type { ArrayPool } from '../optim/array-pool.js';
import { normIfFinite } from '../optim/clip.js';
import { stateIsFinite } from '../optim/finite-state.js';
import { findStats } from '../optim/stats.js';
import type { GradientTransformation } from '../optim/transform.js';
import { type CurvatureEstimator, estimateExtra, estimateFinite } from './curvature-schedule.js';
import type { PendingEstimate, ShardGradient, StepMetrics, StepState } from './records.js';

/** The estimate the deterministic rule applies at step t: the one launched at t − staleness, if queued. */
export function dueAt(
  pending: readonly PendingEstimate[],
  t: number,
  staleness: number,
): PendingEstimate | null {
  return pending.find((e) => e.launchedAt + staleness === t) ?? null;
}

/**
 * One optimizer step: `due` (an estimate in `state.pending`, or null) is folded in; a non-finite
 * loss/gradient/estimate/update/new optimizer state skips the step and drops `due`. Mutates `state`
 * (params in place, so the shared buffer workers read is the one updated) and returns the step's
 * metrics, `ms` left 0 for the runner to fill in.
 */
export function applyStep<S>(
  state: StepState<S>,
  optimizer: GradientTransformation<S>,
  gradient: ShardGradient,
  predictions: number,
  due: PendingEstimate | null,
  arrays?: ArrayPool,
  /** Which estimator `due` came from ('gnb-gradient' hands it on as extra.curvatureGradient). */
  estimator?: CurvatureEstimator,
): StepMetrics {
  const t = state.step;
  const { loss, grad } = gradient;
  const g = grad.length > 0 ? normIfFinite(grad) : { norm: NaN, finite: true };
  const metrics: StepMetrics = {
    step: t,
    loss,
    gradNorm: g.norm,
    updateNorm: 0,
    predictions,
    skipped: false,
    ms: 0,
  };
  const extra = {
    batchSize: predictions,
    loss,
    ...estimateExtra(due, estimator),
    ...(arrays ? { arrays } : {}),
  };
  const finite =
    !gradient.nonFinite &&
    Number.isFinite(loss) &&
    grad.length === state.params.length &&
    g.finite &&
    (!due || estimateFinite(due));
  const [updates, optState] = finite
    ? optimizer.update(grad, state.optState, state.params, extra)
    : [null, state.optState];
  state.pending = state.pending.filter((e) => e !== due);
  state.step = t + 1;
  const u = updates ? normIfFinite(updates) : null;
  if (!updates || !u?.finite || !stateIsFinite(optState, state.optState)) {
    metrics.skipped = true;
    state.skipped += 1;
    // The update made for nothing: what it allocated is nobody's.
    if (arrays && updates) recycle(arrays, optimizer, updates, optState, state.optState);
    return metrics;
  }
  metrics.updateNorm = u.norm;
  if (due) metrics.curvatureStaleness = t - due.launchedAt;
  const stats = findStats(optState);
  if (stats) {
    metrics.winRate = stats.winRate;
    metrics.hMean = stats.hMean;
  }
  const replaced = state.optState;
  state.optState = optState;
  applyUpdatesInPlace(state.params, updates);
  if (arrays) recycle(arrays, optimizer, updates, replaced, optState);
  return metrics;
}

/**
 * After a step under an array pool: the state that is no longer current (minus the parts it shares with
 * the current one) and the updates, if the optimizer made them fresh, can be reused.
 */
function recycle<S>(
  arrays: ArrayPool,
  optimizer: GradientTransformation<S>,
  updates: Float32Array,
  dead: S,
  live: S,
): void {
  arrays.giveUnshared(dead, live);
  if (optimizer.freshUpdates) arrays.give(updates);
}
