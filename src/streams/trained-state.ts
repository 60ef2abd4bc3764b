/**
 * What the sink stages read besides the metrics: the trainer's state after a step. A sink is placed
 * after `pipeline.run(source$)` and reads θ when step t's metrics reach it; the pipeline does not start
 * step t + 1's update before its subscriber returns, so a synchronous stage sees exactly θ_{t+1}. The
 * step check turns a misplaced stage (behind an asynchronous one, where θ may have moved on) into a
 * clear error instead of silently evaluating or saving the wrong parameters.
 */
import type { StepMetrics } from '../step/records.js';

export interface TrainedState {
  /** Steps applied so far (θ is θ_step). */
  step: number;
  /** θ_step; the stages copy it when they keep it past the call. */
  params: Float32Array;
  optState: unknown;
}

/** Reads the state and checks it is the one right after the step of `m`. */
export function stateAfter(who: string, state: () => TrainedState, m: StepMetrics): TrainedState {
  const s = state();
  if (s.step !== m.step + 1)
    throw new Error(
      `${who}: the trainer is at step ${s.step} but the metrics are of step ${m.step} (θ after it is step ${m.step + 1}); ` +
        'place this stage right after pipeline.run() or behind synchronous stages only',
    );
  return s;
}

/** A positive integer option, or a RangeError naming it. */
export function checkEvery(who: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new RangeError(`${who}: ${key} must be a positive integer, got ${String(v)}`);
  return v;
}
