/**
 * The training driver behind `hessflow train` and `compare`: config → data, model, optimizer → steps.
 * `runTraining(config, { onStep })` is the one place that runs the loop. By default it trains through the
 * streaming pipeline (src/pipeline: gradient shards on worker threads, one per core, curvature probes on
 * their own thread); `engine: 'trainer'` runs the synchronous `Trainer` in this thread instead, the
 * reference semantics. Either way the steps flow through the same stages: held-out evaluation and
 * Hessian diagnostics (part of the run), then the caller's sinks (metrics file, checkpoints).
 */
import {
  Observable,
  type MonoTypeOperatorFunction,
  type OperatorFunction,
  Subject,
  type Subscription,
  identity,
  takeUntil,
} from 'rxjs';
import { batchedHvpOperator } from '../diagnostics/operator.js';
import { type Model, type ModelSpec, lossFunction } from '../nn/model.js';
import { buildModel } from '../nn/models/registry.js';
import type { GradientTransformation } from '../optim/index.js';
import type { PipelineCheckpoint } from '../pipeline/checkpoint.js';
import { createPipeline } from '../pipeline/create-pipeline.js';
import { checkEvery, type TrainedState } from '../streams/trained-state.js';
import { diagnoseEvery } from '../streams/diagnose-every.js';
import { evaluateEvery } from '../streams/evaluate-every.js';
import { fromDataset } from '../streams/from-dataset.js';
import { fromTrainer } from '../streams/from-trainer.js';
import { setFiniteChecks } from '../tensor/index.js';
import { Tensor } from '../tensor/tensor.js';
import type { EvalResult } from '../step/records.js';
import { evaluate } from '../train/evaluate.js';
import type { StepMetrics } from '../step/records.js';
import type { RunConfig } from './config.js';
import { buildOptimizer, modelSpecOf, setupData, trainerFor, type RunData } from './run-setup.js';

/**
 * Everything a run continues from (`--resume`): θ, the optimizer state, the next step, the curvature
 * estimates launched but not yet applied (with their values) and the skipped-step count. Both engines
 * take it; batches are a pure function of the step, so the data position is the step.
 */
export type ResumeState = PipelineCheckpoint<unknown>;

export interface TrainingResult {
  model: Model;
  /** The state to resume from, in-flight estimates included. */
  resumeState: ResumeState;
  /** Set when `stopAfter` ended the run before its step budget. */
  stoppedEarly?: boolean;
  params: Float32Array;
  optimizerState: unknown;
  /** Steps completed. */
  step: number;
  skipped: number;
  /** Held-out loss/accuracy after the last step. */
  finalEval: EvalResult;
  elapsedMs: number;
  data: RunData;
  /** Set when `signal` stopped the run before its step budget. */
  interrupted?: boolean;
}

/** What the caller's sinks can read: the run's pieces and the trainer's state after each step. */
export interface RunContext {
  config: RunConfig;
  model: Model;
  data: RunData;
  state: () => TrainedState;
}

export interface RunTrainingOptions {
  /** Called after every step with its metrics (after the sinks). */
  onStep?: (m: StepMetrics) => void;
  /**
   * 'pipeline' (default): the streaming pipeline on worker threads. 'trainer': the synchronous Trainer
   * in this thread (the reference; its step gradient is the plain batch mean, the pipeline's the ordered
   * sum over `shards` shards, equal to it for one shard).
   */
  engine?: 'pipeline' | 'trainer';
  /** Gradient worker threads (pipeline; default: the available cores). */
  workers?: number;
  /** Shards per batch (pipeline; default 4); fixed, so results never depend on the worker count. */
  shards?: number;
  /** Stages after evaluation and diagnostics, e.g. writeMetrics and checkpointEvery (src/streams). */
  sinks?: (run: RunContext) => MonoTypeOperatorFunction<StepMetrics>;
  /** Aborting stops the run after the step in progress; the sinks still complete (final checkpoint). */
  signal?: AbortSignal;
  /** Continue a run from this state (up to `config.steps` in total) instead of starting at step 0. */
  resume?: ResumeState;
  /** The run's data, when the caller has set it up already (default: setupData(config)). */
  data?: RunData;
  /** Asked after every step (after `onStep`): true ends the run there, e.g. early stopping. */
  stopAfter?: (m: StepMetrics) => boolean;
}

/** A source of step metrics with the state behind them. */
interface Driver {
  steps$: Observable<StepMetrics>;
  state: () => TrainedState;
  stop: () => void;
  /** The state to resume from, once the estimates in flight have arrived. */
  final: () => Promise<ResumeState>;
  close: () => Promise<void>;
}

function trainerDriver(
  config: RunConfig,
  model: Model,
  data: RunData,
  optimizer: GradientTransformation,
  resume: ResumeState | undefined,
): Driver {
  // No evaluation inside: the evaluateEvery stage does it for both engines.
  const trainer = trainerFor(config, data, model, optimizer, resume);
  const stop$ = new Subject<void>();
  return {
    steps$: fromTrainer(trainer).pipe(takeUntil(stop$)),
    state: () => trainer.state(),
    stop: () => stop$.next(),
    final: () => {
      const s = trainer.state();
      return Promise.resolve({
        params: s.params.slice(),
        optState: s.optState,
        step: s.step,
        pending: s.pending.map((e) => ({
          diag: e.diag,
          launchedAt: e.launchedAt,
          ...(e.pair ? { pair: e.pair } : {}),
        })),
        skipped: s.skipped,
      });
    },
    close: async () => undefined,
  };
}

function pipelineDriver(
  config: RunConfig,
  spec: ModelSpec,
  data: RunData,
  optimizer: GradientTransformation,
  options: RunTrainingOptions,
): Driver {
  const pipeline = createPipeline({
    model: spec,
    optimizer,
    seed: config.seed,
    batchSpec: data.batchSpec,
    ...(config.curvature ? { curvature: config.curvature } : {}),
    ...(config.gpu ? { gpu: config.gpu } : {}),
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.shards !== undefined ? { shards: options.shards } : {}),
    ...(options.resume ? { resumeFrom: options.resume } : {}),
  });
  const run$ = pipeline.run(
    fromDataset(data.batchAt, { start: options.resume?.step ?? 0, end: config.steps }),
  );
  // Our datasets only make valid batches; one refused anyway would silently shorten the run: fail it.
  const steps$ = new Observable<StepMetrics>((subscriber) => {
    const refused = pipeline.errors$.subscribe((e) =>
      subscriber.error(new Error(`training batch of step ${e.step} refused (${e.reason}): ${e.message}`)),
    );
    const sub = run$.subscribe(subscriber);
    return () => {
      sub.unsubscribe();
      refused.unsubscribe();
    };
  });
  return {
    steps$,
    state: () => {
      const s = pipeline.snapshot();
      return { step: s.step, params: s.params, optState: s.optState };
    },
    stop: () => pipeline.stop(),
    final: () => pipeline.checkpoint(),
    close: () => pipeline.close(),
  };
}

/** The Hessian-diagnostics stage of a config, or a pass-through without `diagnostics`. */
function diagnosticsStage(
  config: RunConfig,
  model: Model,
  data: RunData,
  state: () => TrainedState,
): OperatorFunction<StepMetrics, StepMetrics> {
  const d = config.diagnostics;
  if (!d) return identity;
  // The Hessian of the mean training loss over the first `batches` training batches, as `hessflow
  // hessian` uses: the same batches every time, so the values are comparable along the run.
  const batches = Array.from({ length: d.batches ?? 1 }, (_, k) => data.batchAt(k));
  const losses = batches.map((b) =>
    lossFunction(model, { data: b.inputs, shape: b.inputShape }, b.targets as Int32Array),
  );
  return diagnoseEvery({
    every: d.every,
    state,
    hvpAt: (params) => batchedHvpOperator(losses, new Tensor(params, [params.length])),
    topEigenvalue: d.topEigenvalue ?? true,
    trace: d.trace ?? true,
    ...(d.tol !== undefined ? { tol: d.tol } : {}),
    ...(d.maxIter !== undefined ? { maxIter: d.maxIter } : {}),
    seed: config.seed,
  });
}

/** Trains `config.steps` steps and evaluates on the held-out data at the end. */
export async function runTraining(
  config: RunConfig,
  options: RunTrainingOptions = {},
): Promise<TrainingResult> {
  const engine = options.engine ?? 'pipeline';
  if (engine !== 'pipeline' && engine !== 'trainer')
    throw new RangeError(
      `runTraining: engine must be "pipeline" or "trainer", got ${JSON.stringify(engine)}`,
    );
  if (options.workers !== undefined) checkEvery('runTraining', 'workers', options.workers);
  if (options.shards !== undefined) checkEvery('runTraining', 'shards', options.shards);
  // The loop checks loss, gradient and update for non-finite values and skips such steps itself.
  setFiniteChecks(false);
  if (options.resume && options.resume.step > config.steps)
    throw new RangeError(
      `runTraining: the run to resume is at step ${options.resume.step}, past the ${config.steps} steps asked for`,
    );
  const data = options.data ?? setupData(config);
  const spec = modelSpecOf(config, data);
  const model = buildModel(spec);
  const optimizer = buildOptimizer(config, model);
  const started = performance.now();
  const driver =
    engine === 'trainer'
      ? trainerDriver(config, model, data, optimizer, options.resume)
      : pipelineDriver(config, spec, data, optimizer, options);
  let last: StepMetrics | undefined;
  let skipped = 0;
  let interrupted = false;
  let stoppedEarly = false;
  let final: TrainedState;
  let resumeState: ResumeState;
  try {
    const context: RunContext = { config, model, data, state: driver.state };
    const steps$ = driver.steps$.pipe(
      evaluateEvery({
        every: config.evalEvery,
        last: config.steps,
        state: driver.state,
        evaluate: (params) => evaluate(model, params, data.evalBatches),
      }),
      diagnosticsStage(config, model, data, driver.state),
      options.sinks ? options.sinks(context) : identity,
    );
    const stop = () => {
      interrupted = true;
      driver.stop();
    };
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        let sub: Subscription | undefined = undefined;
        sub = steps$.subscribe({
          next: (m) => {
            last = m;
            if (m.skipped) skipped++;
            try {
              options.onStep?.(m);
              if (!stoppedEarly && options.stopAfter?.(m)) {
                stoppedEarly = true;
                driver.stop();
              }
            } catch (e) {
              // A failing callback ends the run like a failing stage (RxJS would only report it).
              reject(e as Error);
              sub?.unsubscribe();
            }
          },
          error: reject,
          complete: resolve,
        });
        // Stopping needs a subscribed run; a signal aborted before the start stops it at once.
        if (options.signal?.aborted) stop();
      });
    } finally {
      options.signal?.removeEventListener('abort', stop);
    }
    final = driver.state();
    resumeState = await driver.final();
  } finally {
    // Every path (done, stopped, failed) ends the worker threads.
    await driver.close();
  }
  const elapsedMs = performance.now() - started;
  return {
    model,
    resumeState,
    ...(stoppedEarly && final.step < config.steps ? { stoppedEarly: true } : {}),
    params: final.params,
    optimizerState: final.optState,
    step: final.step,
    skipped,
    finalEval:
      last?.eval && last.step + 1 === final.step
        ? last.eval
        : evaluate(model, final.params, data.evalBatches),
    elapsedMs,
    data,
    ...(interrupted && !stoppedEarly && final.step < config.steps ? { interrupted: true } : {}),
  };
}
