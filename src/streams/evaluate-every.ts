/**
 * Held-out evaluation as a stage: after every `every`-th step (and after step `last`, the run's final
 * one) it evaluates θ and attaches the result as `m.eval`, as the synchronous Trainer does. It runs in the
 * calling thread while the step's subscriber holds the pipeline, so the next update waits for it and the
 * numbers belong to exactly θ after that step.
 */
import { type MonoTypeOperatorFunction, map } from 'rxjs';
import type { EvalResult } from '../step/records.js';
import type { StepMetrics } from '../step/records.js';
import { type TrainedState, checkEvery, stateAfter } from './trained-state.js';

export interface EvaluateEveryOptions {
  /** Evaluate after steps every, 2·every, … (counted as steps applied). */
  every: number;
  /** The step count at which the run ends: evaluated too, even off the `every` grid. */
  last?: number;
  /** Reads the state after a step; without it, the reader each step's metrics carry is used. */
  state?: () => TrainedState;
  evaluate: (params: Float32Array) => EvalResult;
}

export function evaluateEvery<M extends StepMetrics>(o: EvaluateEveryOptions): MonoTypeOperatorFunction<M> {
  const every = checkEvery('evaluateEvery', 'every', o.every);
  if (o.last !== undefined) checkEvery('evaluateEvery', 'last', o.last);
  return map((m) => {
    const done = m.step + 1;
    if (done % every !== 0 && done !== o.last) return m;
    const s = stateAfter('evaluateEvery', o.state, m);
    return { ...m, eval: o.evaluate(s.params) };
  });
}
