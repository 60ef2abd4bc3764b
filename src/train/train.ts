/**
 * The synchronous training loop: the reference semantics that the streaming pipeline reproduces bit
 * for bit. Each step validates its batch, computes loss and gradient, launches/applies curvature
 * estimates on their schedule, and applies the optimizer. A step whose loss, gradient, update or new
 * optimizer state is not finite is skipped and counted, never applied (state and θ unchanged).
 */
import type { Batch } from '../data/batch.js';
import { initialParams } from '../nn/model.js';
import { tensorLayoutOf } from '../nn/tensor-layout.js';
import { ArrayPool } from '../optim/array-pool.js';
import { resolveCurvature } from '../step/curvature-schedule.js';
import { carryState } from '../step/event.js';
import { inlinePorts } from '../step/ports.js';
import type { StepMetrics, StepState } from '../step/records.js';
import { type LoopConfig, type StepRunnerOptions, runStep } from '../step/runner.js';
import { evaluate } from './evaluate.js';

// The step's records live on the step floor; these names stay importable from here.
export type { StepMetrics } from '../step/records.js';

export interface TrainConfig<S = unknown> extends LoopConfig<S> {
  evaluation?: { every: number; batches: readonly Batch[] };
  /** Resume: parameters, optimizer state, next step and estimates still in flight. */
  resume?: TrainState<S>;
}

/** Parameters, optimizer state, next step, estimates still in flight and steps skipped. */
export type TrainState<S = unknown> = StepState<S>;

/**
 * Runs the loop lazily: each `next()` performs one step and yields its metrics; `state()` reads the
 * current state.
 *
 * A state handed out (by `state()`, or by the reader a step's metrics carry when a sink calls it) stays
 * the value it was: the next step works on a copy. A state nobody was given is updated in place, and
 * the arrays of the optimizer state it replaces are recycled (array-pool.ts), as PyTorch's optimizers
 * update in place: a loop that does not read the state every step allocates nothing per step.
 */
export class Trainer<S = unknown> {
  private current: TrainState<S>;
  /** Whether `current` was handed out: then the next step leaves it intact. */
  private handedOut = false;
  /** States replaced in place (their arrays recycled): a late reader of one gets an error, not them. */
  private readonly retired = new WeakSet<TrainState<S>>();
  private readonly arrays = new ArrayPool();
  private readonly runner: StepRunnerOptions<S>;
  private readonly ports;

  constructor(private readonly config: TrainConfig<S>) {
    const seed = config.seed ?? 0;
    this.runner = {
      optimizer: config.optimizer,
      curvature: config.curvature ? resolveCurvature(config.curvature) : null,
      seed,
      ...(config.batchSpec ? { batchSpec: config.batchSpec } : {}),
    };
    if (!Number.isInteger(config.steps) || config.steps < 0)
      throw new RangeError(`train: steps must be a non-negative integer, got ${config.steps}`);
    if (config.resume) {
      // The caller keeps the optimizer state it resumes from: no step recycles its arrays.
      this.handedOut = true;
      this.arrays.keepOut([config.resume.optState, config.resume.pending]);
      this.current = {
        ...config.resume,
        params: config.resume.params.slice(),
        pending: [...config.resume.pending],
      };
    } else {
      const params = config.initialParams?.slice() ?? (initialParams(config.model, seed) as Float32Array);
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
    this.ports = inlinePorts(config.model, () => this.current.params, this.arrays);
  }

  /** The current state, which stays as it is now (later steps work on a copy). */
  state(): TrainState<S> {
    return this.handOut(this.current);
  }

  /** The step the next `step()` performs (reading it hands nothing out). */
  get nextStep(): number {
    return this.current.step;
  }

  done(): boolean {
    return this.current.step >= this.config.steps;
  }

  /** One step. Throws (changing nothing) when the batch is invalid. */
  step(): StepMetrics {
    const t0 = performance.now();
    const s = this.current;
    const batch = this.config.batchAt(s.step);
    // A state handed out stays the value it was (callers and sinks may keep it): the step is applied to
    // a copy of θ. One nobody holds is stepped in place, recycling what it replaces. Either way the step
    // works on a new state object, and θ changes only at the step's very end (applyStep), so a step that
    // throws leaves `current` as it was.
    const shared = this.handedOut;
    const next: TrainState<S> = shared
      ? { ...s, params: s.params.slice(), pending: [...s.pending] }
      : { ...s };
    const metrics = runStep(next, batch, this.ports, this.runner, shared ? undefined : this.arrays);
    if (!shared) this.retired.add(s);
    this.current = next;
    this.handedOut = false;
    const ev = this.config.evaluation;
    if (ev && (next.step % ev.every === 0 || next.step === this.config.steps))
      metrics.eval = evaluate(this.config.model, next.params, ev.batches);
    metrics.ms = performance.now() - t0;
    return carryState(metrics, () => this.handOut(next));
  }

  /** `state` for a sink: from now on it stays as it is; one already replaced in place is an error. */
  private handOut(state: TrainState<S>): TrainState<S> {
    if (this.retired.has(state))
      throw new Error(
        `Trainer: the state after step ${state.step - 1} is no longer kept (a later step updated it in place); ` +
          'read it before the next step, or keep a copy',
      );
    if (state === this.current && !this.handedOut) {
      this.handedOut = true;
      // Later states share the arrays a step did not replace (Sophia's h between estimates): those
      // must outlive them.
      this.arrays.keepOut([state.optState, state.pending]);
    }
    return state;
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
