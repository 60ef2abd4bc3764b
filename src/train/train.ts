/**
 * The synchronous training loop: the reference semantics that the streaming pipeline reproduces bit
 * for bit. Each step validates its batch, computes loss and gradient, launches/applies curvature
 * estimates on their schedule, and applies the optimizer. A step whose loss, gradient, update or new
 * optimizer state is not finite is skipped and counted, never applied (state and θ unchanged).
 */
import type { Batch } from '../data/batch.js';
import { initialParams } from '../nn/model.js';
import { tensorLayoutOf } from '../nn/tensor-layout.js';
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

/** Runs the loop lazily: each `next()` performs one step and yields its metrics; `state()` reads the current state. */
export class Trainer<S = unknown> {
  private current: TrainState<S>;
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
    this.ports = inlinePorts(config.model, () => this.current.params);
  }

  state(): TrainState<S> {
    return this.current;
  }

  done(): boolean {
    return this.current.step >= this.config.steps;
  }

  /** One step. Throws (changing nothing) when the batch is invalid. */
  step(): StepMetrics {
    const t0 = performance.now();
    const s = this.current;
    const batch = this.config.batchAt(s.step);
    // Each state stays the value it was when handed out (callers and sinks may keep it): the step is
    // applied to a copy, and θ_t, which the ports read, is left as it is.
    const next: TrainState<S> = { ...s, params: s.params.slice(), pending: [...s.pending] };
    const metrics = runStep(next, batch, this.ports, this.runner);
    this.current = next;
    const ev = this.config.evaluation;
    if (ev && (next.step % ev.every === 0 || next.step === this.config.steps))
      metrics.eval = evaluate(this.config.model, next.params, ev.batches);
    metrics.ms = performance.now() - t0;
    // The state after this step is an immutable value: the sinks may read it whenever they like.
    return carryState(metrics, () => next);
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
