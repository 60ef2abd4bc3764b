/**
 * The synchronous reference loop for the pipeline: `Trainer`'s semantics (validation, curvature
 * schedule, delayed application, skipped non-finite steps, Hutchinson's free loss and gradient) with the
 * step gradient defined as the ordered shard reduction of `src/step/shards.ts`: the step runner with
 * inline-sharded ports. With `shards: 1` it equals `Trainer` bit for bit; with any `shards` the pipeline
 * equals it bit for bit for any worker count.
 */
import { initialParams } from '../nn/model.js';
import { tensorLayoutOf } from '../nn/tensor-layout.js';
import { ArrayPool } from '../optim/array-pool.js';
import { resolveCurvature } from '../step/curvature-schedule.js';
import { inlineShardedPorts } from '../step/ports.js';
import type { StepMetrics, StepState } from '../step/records.js';
import { type LoopConfig, runStep } from '../step/runner.js';

export interface ReferenceConfig<S> extends LoopConfig<S> {
  /** Fixed number of gradient shards per batch (default 4). */
  shards?: number;
}

export function referenceLoop<S>(config: ReferenceConfig<S>): {
  state: StepState<S>;
  history: StepMetrics[];
} {
  const { model, optimizer } = config;
  const seed = config.seed ?? 0;
  const params = (config.initialParams?.slice() ?? initialParams(model, seed)) as Float32Array;
  const state: StepState<S> = {
    params,
    optState: optimizer.init(params, tensorLayoutOf(model)),
    step: 0,
    pending: [],
    skipped: 0,
  };
  // The loop owns its state alone: the states it replaces are recycled (array-pool.ts).
  const arrays = new ArrayPool();
  const ports = inlineShardedPorts(model, () => state.params, config.shards ?? 4);
  const runner = {
    optimizer,
    curvature: config.curvature ? resolveCurvature(config.curvature) : null,
    seed,
    ...(config.batchSpec ? { batchSpec: config.batchSpec } : {}),
  };
  const history: StepMetrics[] = [];
  while (state.step < config.steps) {
    const t0 = performance.now();
    const m = runStep(state, config.batchAt(state.step), ports, runner, arrays);
    m.ms = performance.now() - t0;
    history.push(m);
  }
  return { state, history };
}
