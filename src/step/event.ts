/**
 * A step's metrics as an event that carries what the sinks need: a reader of the state right after the
 * step, under a symbol key, so it travels with the metrics through `{ ...m }` in every stage but never
 * reaches JSON, structured clones or metric files. Runners attach it as they emit a step; the sinks
 * (src/streams) read it instead of asking the trainer for its state.
 */
import type { StepMetrics, TrainedState } from './records.js';

const STATE_AFTER: unique symbol = Symbol('hessflow.stateAfter');

type Carrying = { [STATE_AFTER]?: () => TrainedState };

/** Attaches to `m` the reader of the state right after its step; returns `m`. */
export function carryState<M extends StepMetrics>(m: M, read: () => TrainedState): M {
  (m as M & Carrying)[STATE_AFTER] = read;
  return m;
}

/** The reader `m` carries, if a runner attached one. */
export function carriedState(m: StepMetrics): (() => TrainedState) | undefined {
  return (m as StepMetrics & Carrying)[STATE_AFTER];
}
