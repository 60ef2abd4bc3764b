/**
 * The training engine behind the daemon. `TrainingEngine` is what the servers and the checkpoint store
 * talk to; `TrainerEngine` implements it over the synchronous `Trainer`, one queued batch per step (the
 * Trainer's `batchAt(step)` returns the batch taken from the queue for that step). Batches are validated
 * before they are accepted, so the queue only ever holds batches the Trainer can use. The streaming
 * pipeline can replace this class later behind the same interface.
 */
import type { Batch } from '../data/batch.js';
import type { BatchSpec } from '../data/validate.js';
import type { ParamLayoutEntry } from '../io/param-layout.js';
import { paramsToSafetensors } from '../io/safetensors-params.js';
import type { Model } from '../nn/model.js';
import { adamw } from '../optim/adam.js';
import { type InjectedState, injectHyperparams, setHyperparam } from '../optim/inject.js';
import { sgd } from '../optim/sgd.js';
import { sophiaG } from '../optim/sophia-g.js';
import type { GradientTransformation } from '../optim/transform.js';
import type { CurvatureConfig, CurvatureEstimate } from '../train/curvature-schedule.js';
import { type EvalResult, evaluate } from '../train/evaluate.js';
import { type StepMetrics, Trainer } from '../train/train.js';
import { BatchQueue, type QueuedBatch } from './batch-queue.js';
import type { DaemonOptimizerConfig } from './config.js';
import { IngestError } from './errors.js';

/** Everything needed to continue training exactly where it stopped (what a checkpoint holds). */
export interface EngineSnapshot {
  params: Float32Array;
  layout: ParamLayoutEntry[];
  optState: unknown;
  step: number;
  pending: CurvatureEstimate[];
  skipped: number;
  /** Accepted batches not yet applied, in order. */
  queue: QueuedBatch[];
  /** Sequence number of the next accepted batch. */
  nextSeq: number;
}

export interface EngineStatus {
  step: number;
  /** Number of parameter updates applied (steps not skipped). */
  paramsVersion: number;
  skipped: number;
  paused: boolean;
  optimizer: { name: string; hyperparams: Record<string, number> };
  queueDepth: number;
  queueLimit: number;
  nextSeq: number;
  backend: 'cpu';
  lastLoss: number | null;
}

export interface AppliedStep {
  seq: number;
  metrics: StepMetrics;
}

export interface TrainingEngine {
  readonly batchSpec: BatchSpec;
  /** Accepts a validated batch: its sequence number, or null when the queue is full. */
  submit(batch: Batch): number | null;
  /** Resolves when the queue has room. */
  whenRoom(): Promise<void>;
  status(): EngineStatus;
  pause(): void;
  resume(): void;
  /** Sets hyperparameters for the following steps; throws an IngestError on an unknown name or bad value. */
  setHyperparams(values: Record<string, unknown>): Record<string, number>;
  snapshot(): EngineSnapshot;
  /** The current parameters as safetensors bytes. */
  weights(): Uint8Array;
  evaluate(batch: Batch): EvalResult;
  /** Starts taking queued batches. */
  start(): void;
  /** Stops after the step in progress (steps are synchronous, so there is at most one). */
  stop(): Promise<void>;
  onStep(listener: (s: AppliedStep) => void): void;
  onError(listener: (e: Error, seq: number) => void): void;
}

export function batchSpecOfModel(model: Model): BatchSpec {
  const spec = model.spec as { kind: string; sizes?: number[]; blockSize?: number; vocabSize?: number };
  if (spec.kind === 'mlp' && spec.sizes) {
    return {
      inputKind: 'float',
      featureShape: [spec.sizes[0]],
      targetKind: 'int',
      targetShape: [],
      numClasses: model.numClasses,
    };
  }
  if (spec.kind === 'gpt' && spec.blockSize) {
    return {
      inputKind: 'int',
      featureShape: [spec.blockSize],
      targetKind: 'int',
      targetShape: [spec.blockSize],
      numClasses: model.numClasses,
      vocabSize: spec.vocabSize ?? model.numClasses,
    };
  }
  throw new RangeError(`daemon: no batch spec is known for model kind "${spec.kind}"`);
}

type Factory = (o: Record<string, unknown>) => GradientTransformation;

const FACTORIES: Record<string, Factory> = {
  sophiaG: sophiaG as Factory,
  adamw: adamw as Factory,
  sgd: sgd as Factory,
};

export interface TrainerEngineOptions {
  model: Model;
  optimizer: DaemonOptimizerConfig;
  curvature?: CurvatureConfig;
  seed: number;
  queueLimit: number;
  /** Continue from a checkpoint. */
  resume?: EngineSnapshot;
}

export class TrainerEngine implements TrainingEngine {
  readonly batchSpec: BatchSpec;
  private readonly queue: BatchQueue;
  private readonly optimizer: GradientTransformation<InjectedState>;
  private readonly factory: Factory;
  private readonly baseHyper: Record<string, unknown>;
  private trainer: Trainer<InjectedState>;
  private current: Batch | null = null;
  private running = false;
  private paused = false;
  private scheduled: ReturnType<typeof setImmediate> | null = null;
  private lastLoss: number | null = null;
  private stepListeners: ((s: AppliedStep) => void)[] = [];
  private errorListeners: ((e: Error, seq: number) => void)[] = [];

  constructor(private readonly opts: TrainerEngineOptions) {
    this.batchSpec = batchSpecOfModel(opts.model);
    const { name, ...hyper } = opts.optimizer;
    const factory = FACTORIES[name];
    if (!factory) throw new RangeError(`daemon: unknown optimizer "${name}"`);
    this.factory = factory;
    this.baseHyper = hyper;
    this.optimizer = injectHyperparams(factory)(hyper);
    this.queue = new BatchQueue(opts.queueLimit, opts.resume?.nextSeq ?? 1);
    const r = opts.resume;
    if (r) this.queue.restore(r.queue, r.nextSeq);
    this.trainer = this.makeTrainer(
      r
        ? {
            params: r.params,
            optState: r.optState as InjectedState,
            step: r.step,
            pending: r.pending,
            skipped: r.skipped,
          }
        : undefined,
    );
  }

  private makeTrainer(resume?: ReturnType<Trainer<InjectedState>['state']>): Trainer<InjectedState> {
    return new Trainer<InjectedState>({
      model: this.opts.model,
      optimizer: this.optimizer,
      batchAt: () => {
        if (!this.current) throw new Error('daemon engine: no batch for this step');
        return this.current;
      },
      steps: Number.MAX_SAFE_INTEGER,
      seed: this.opts.seed,
      batchSpec: this.batchSpec,
      ...(this.opts.curvature ? { curvature: this.opts.curvature } : {}),
      ...(resume ? { resume } : {}),
    });
  }

  submit(batch: Batch): number | null {
    const seq = this.queue.offer(batch);
    if (seq !== null) this.schedule();
    return seq;
  }

  whenRoom(): Promise<void> {
    return this.queue.whenRoom();
  }

  status(): EngineStatus {
    const s = this.trainer.state();
    return {
      step: s.step,
      paramsVersion: s.step - s.skipped,
      skipped: s.skipped,
      paused: this.paused,
      optimizer: { name: this.opts.optimizer.name, hyperparams: { ...s.optState.hyperparams } },
      queueDepth: this.queue.depth,
      queueLimit: this.queue.limit,
      nextSeq: this.queue.seqCounter,
      backend: 'cpu',
      lastLoss: this.lastLoss,
    };
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  setHyperparams(values: Record<string, unknown>): Record<string, number> {
    const s = this.trainer.state();
    let opt = s.optState;
    const entries = Object.entries(values);
    if (entries.length === 0) throw new IngestError('empty_update', 'no hyperparameters given');
    for (const [name, value] of entries) {
      if (!Object.prototype.hasOwnProperty.call(opt.hyperparams, name)) {
        throw new IngestError(
          'unknown_hyperparameter',
          `unknown hyperparameter "${name}" (settable: ${Object.keys(opt.hyperparams).join(', ')})`,
        );
      }
      if (typeof value !== 'number' || !Number.isFinite(value))
        throw new IngestError('bad_value', `hyperparameter "${name}" must be a finite number`);
      opt = setHyperparam(opt, name, value);
    }
    // Range checks live in the factory: build it with the new values so a bad value fails here, not mid-step.
    // A dry-run update (optimizers are pure) also catches values the current state cannot take.
    try {
      this.factory({ ...this.baseHyper, ...opt.hyperparams });
      this.optimizer.update(new Float32Array(s.params.length), opt, s.params, { batchSize: 1, loss: 0 });
    } catch (e) {
      throw new IngestError('bad_value', (e as Error).message);
    }
    this.trainer = this.makeTrainer({ ...s, optState: opt });
    return { ...opt.hyperparams };
  }

  snapshot(): EngineSnapshot {
    const s = this.trainer.state();
    return {
      params: s.params,
      layout: this.opts.model.layout.entries.map((e) => ({
        name: e.name,
        shape: [...e.shape],
        offset: e.offset,
        tags: [...e.tags],
      })),
      optState: s.optState,
      step: s.step,
      pending: s.pending,
      skipped: s.skipped,
      queue: this.queue.snapshot(),
      nextSeq: this.queue.seqCounter,
    };
  }

  weights(): Uint8Array {
    const snap = this.snapshot();
    return paramsToSafetensors(snap.params, snap.layout, { step: String(snap.step) });
  }

  evaluate(batch: Batch): EvalResult {
    return evaluate(this.opts.model, this.trainer.state().params, [batch]);
  }

  start(): void {
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
  }

  onStep(listener: (s: AppliedStep) => void): void {
    this.stepListeners.push(listener);
  }

  onError(listener: (e: Error, seq: number) => void): void {
    this.errorListeners.push(listener);
  }

  private schedule(): void {
    if (!this.running || this.paused || this.scheduled || this.queue.depth === 0) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = null;
      this.runOne();
      this.schedule();
    });
  }

  private runOne(): void {
    if (!this.running || this.paused) return;
    const item = this.queue.peek();
    if (!item) return;
    this.current = item.batch;
    let metrics: StepMetrics;
    try {
      metrics = this.trainer.step();
    } catch (e) {
      // The Trainer changed nothing; drop the batch so one bad step cannot wedge the loop.
      this.queue.take();
      this.current = null;
      for (const l of this.errorListeners) l(e as Error, item.seq);
      return;
    }
    // Taken only once applied: a snapshot between steps still holds every unapplied batch.
    this.queue.take();
    this.current = null;
    if (!metrics.skipped) this.lastLoss = metrics.loss;
    for (const l of this.stepListeners) l({ seq: item.seq, metrics });
  }
}
