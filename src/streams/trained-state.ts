/**
 * What the sink stages read besides the metrics: the trainer's state after a step. Each step's metrics
 * carry a reader of it (src/step/event.ts), attached by the runner that applied the step; a stage given
 * an explicit `state` reader (the way stages were wired before steps carried one) reads that instead.
 * A pipeline updates θ in place and does not start step t + 1's update before the step's subscriber
 * returns, so a synchronous stage sees exactly θ_{t+1}; the step check turns a misplaced stage (behind
 * an asynchronous one, where θ may have moved on) into a clear error instead of silently evaluating or
 * saving the wrong parameters.
 */
import { carriedState } from '../step/event.js';
import type { StepMetrics, TrainedState } from '../step/records.js';

export type { TrainedState } from '../step/records.js';

/** The state right after the step of `m` (from `state`, or else the reader `m` carries), checked. */
export function stateAfter(
  who: string,
  state: (() => TrainedState) | undefined,
  m: StepMetrics,
): TrainedState {
  const read = state ?? carriedState(m);
  if (!read)
    throw new Error(
      `${who}: the metrics of step ${m.step} carry no state and no state reader was given; ` +
        'place this stage after pipeline.run() or fromTrainer(), or pass `state`',
    );
  const s = read();
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
