/**
 * `TrainerEngine`: the daemon's `TrainingEngine` over the synchronous `Trainer`, one queued batch per
 * step (the Trainer's `batchAt(step)` returns the batch taken from the queue for that step). Steps run
 * one at a time on the event loop (setImmediate between them, so ingest and control stay responsive).
 */
import type { Batch } from '../data/batch.js';
import { BatchValidationError } from '../data/validate.js';
import type { Model } from '../nn/model.js';
import type { InjectedState } from '../optim/inject.js';
import type { GradientTransformation } from '../optim/transform.js';
import {
  type CurvatureConfig,
  type ResolvedCurvature,
  launchesAt,
  resolveCurvature,
} from '../step/curvature-schedule.js';
import { evaluate } from '../train/evaluate.js';
import { type EvalResult } from '../step/records.js';
import { Trainer } from '../train/train.js';
import { type StepMetrics } from '../step/records.js';
import { BatchQueue } from './batch-queue.js';
import type { DaemonOptimizerConfig } from './config.js';
import { type Divergence, DivergenceWatch } from './divergence.js';
import type { EngineSnapshot, EngineStatus, IngestSpec, ProbeTiming, TrainingEngine } from './engine.js';
import { DEFAULT_DIVERGENCE_STEPS, DEFAULT_MAX_FEATURE_MAGNITUDE, ingestSpecOf } from './engine.js';
import { engineStatus } from './engine-status.js';
import { EngineListeners } from './engine-listeners.js';
import { withHyperparams } from './hyperparam-update.js';
import { optimizerOf } from './optimizers.js';
import { ProbeClock } from './probe-clock.js';
import { snapshotLayout, weightsFile } from './snapshot-layout.js';

export interface TrainerEngineOptions {
  model: Model;
  optimizer: DaemonOptimizerConfig;
  curvature?: CurvatureConfig;
  seed: number;
  queueLimit: number;
  /** Continue from a checkpoint (paused if it was taken while paused). */
  resume?: EngineSnapshot;
  /** Ingest refuses features of larger magnitude (0 = no bound; default DEFAULT_MAX_FEATURE_MAGNITUDE). */
  maxFeatureMagnitude?: number;
  /** Consecutive skipped steps that stop training as diverged (0 = never; default DEFAULT_DIVERGENCE_STEPS). */
  divergenceSteps?: number;
}

export class TrainerEngine extends EngineListeners implements TrainingEngine {
  readonly batchSpec: IngestSpec;
  private readonly queue: BatchQueue;
  private readonly watch: DivergenceWatch;
  private readonly optimizer: GradientTransformation<InjectedState>;
  private readonly check: (hyper: Record<string, number>) => void;
  private trainer: Trainer<InjectedState>;
  private current: Batch | null = null;
  private running = false;
  private paused = false;
  private scheduled: ReturnType<typeof setImmediate> | null = null;
  private lastLoss: number | null = null;
  /** A step that failed for a reason other than its batch: training halts, the batch stays queued. */
  halted: { error: string; seq: number } | null = null;
  private readonly curvature: ResolvedCurvature | null;
  private readonly clock = new ProbeClock();
  private readonly timedModel: Model;

  constructor(private readonly opts: TrainerEngineOptions) {
    super();
    this.batchSpec = ingestSpecOf(opts.model, opts.maxFeatureMagnitude ?? DEFAULT_MAX_FEATURE_MAGNITUDE);
    const { optimizer, check } = optimizerOf(opts.optimizer, opts.model);
    this.optimizer = optimizer;
    this.check = check;
    this.curvature = opts.curvature ? resolveCurvature(opts.curvature) : null;
    this.timedModel = this.clock.wrapModel(opts.model);
    this.queue = new BatchQueue(opts.queueLimit, opts.resume?.nextSeq ?? 1);
    const r = opts.resume;
    if (r) this.queue.restore(r.queue, r.nextSeq);
    this.paused = r?.paused ?? false;
    this.watch = new DivergenceWatch(opts.divergenceSteps ?? DEFAULT_DIVERGENCE_STEPS, r?.diverged ?? null);
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
      model: this.timedModel,
      optimizer: this.clock.wrapOptimizer(this.optimizer),
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

  get diverged(): Divergence | null {
    return this.watch.diverged;
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  whenRoom(): Promise<void> {
    return this.queue.whenRoom();
  }

  status(): EngineStatus {
    const s = this.trainer.state();
    const optimizer = { name: this.opts.optimizer.name, hyperparams: s.optState.hyperparams };
    return engineStatus(s, optimizer, this.queue, {
      paused: this.paused,
      lastLoss: this.lastLoss,
      halted: this.halted,
      diverged: this.watch.diverged,
    });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.halted = null; // retry the kept batch
    this.watch.clear(); // the operator's call: count skipped steps afresh
    this.schedule();
  }

  setHyperparams(values: Record<string, unknown>): Record<string, number> {
    const s = this.trainer.state();
    const opt = withHyperparams(this.optimizer, this.check, s.optState, s.params, values);
    this.trainer = this.makeTrainer({ ...s, optState: opt });
    return { ...opt.hyperparams };
  }

  snapshot(): EngineSnapshot {
    const s = this.trainer.state();
    return {
      params: s.params,
      layout: snapshotLayout(this.opts.model),
      optState: s.optState,
      step: s.step,
      pending: s.pending,
      skipped: s.skipped,
      queue: this.queue.snapshot(),
      nextSeq: this.queue.seqCounter,
      paused: this.paused,
      optimizer: this.opts.optimizer.name,
      diverged: this.watch.diverged,
    };
  }

  weights(): Uint8Array {
    const s = this.trainer.state();
    return weightsFile(this.opts.model, s.params, s.step);
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

  private schedule(): void {
    if (
      !this.running ||
      this.paused ||
      this.halted ||
      this.diverged ||
      this.scheduled ||
      this.queue.depth === 0
    )
      return;
    this.scheduled = setImmediate(() => {
      this.scheduled = null;
      this.runOne();
      this.schedule();
    });
  }

  private runOne(): void {
    if (!this.running || this.paused || this.halted || this.diverged) return;
    const item = this.queue.peek();
    if (!item) return;
    this.current = item.batch;
    const step = this.trainer.nextStep;
    const probing = this.curvature !== null && launchesAt(this.curvature, step);
    if (probing) this.clock.arm();
    let metrics: StepMetrics;
    try {
      metrics = this.trainer.step();
    } catch (e) {
      if (probing) this.clock.disarm();
      this.current = null;
      // The Trainer changed nothing. A batch at fault is dropped so it cannot wedge the loop; any other
      // failure (an optimizer state that does not fit, a bug) is not the batch's: it stays acknowledged
      // and queued, and training halts until resume() retries it (or a graceful stop checkpoints it).
      if (e instanceof BatchValidationError) {
        this.queue.take();
        this.emitError(e, item.seq, true);
      } else {
        this.halted = { error: (e as Error).message, seq: item.seq };
        this.emitError(e as Error, item.seq, false);
      }
      return;
    }
    if (probing) {
      const seconds = this.clock.disarm();
      if (seconds !== null) {
        const p: ProbeTiming = { step, estimator: this.curvature!.estimator, seconds };
        this.emitProbe(p);
      }
    }
    // Taken only once applied: a snapshot between steps still holds every unapplied batch.
    this.queue.take();
    this.current = null;
    if (!metrics.skipped) this.lastLoss = metrics.loss;
    this.emitStep({ seq: item.seq, metrics });
    if (this.watch.observe(item.seq, metrics.step, metrics.skipped)) this.emitDiverged(this.watch.diverged!);
  }
}
