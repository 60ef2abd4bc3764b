/**
 * `PipelineEngine`: the daemon's `TrainingEngine` over the streaming `createPipeline` (gradient shards on
 * worker threads, curvature probes on their own worker, the coordinator applying steps). The queue is the
 * pipeline's pull source: the pipeline asks for batches as it grants credits and gets the queued ones in
 * sequence order; a batch leaves the queue only once its step is applied, so a snapshot between steps
 * holds every unapplied batch, fed to the pipeline or not. Step t's gradients start only once θ_t is in
 * place, so at most one step computes at a time and a failure belongs to the batch at the queue's head.
 */
import type { Subscription } from 'rxjs';
import { Observable } from 'rxjs';
import type { Batch } from '../data/batch.js';
import type { Model, ModelSpec } from '../nn/model.js';
import type { InjectedState } from '../optim/inject.js';
import type { PipelineCheckpoint } from '../pipeline/checkpoint.js';
import { type Pipeline, createPipeline } from '../pipeline/create-pipeline.js';
import type { PullSource } from '../streams/from-dataset.js';
import type { CurvatureConfig } from '../step/curvature-schedule.js';
import { evaluate } from '../train/evaluate.js';
import { type EvalResult } from '../step/records.js';
import type { StepMetrics } from '../step/records.js';
import type { FailureHook } from '../workers/protocol.js';
import { BatchQueue } from './batch-queue.js';
import type { DaemonOptimizerConfig } from './config.js';
import { type Divergence, DivergenceWatch } from './divergence.js';
import type { EngineSnapshot, EngineStatus, IngestSpec, TrainingEngine } from './engine.js';
import { DEFAULT_DIVERGENCE_STEPS, DEFAULT_MAX_FEATURE_MAGNITUDE, ingestSpecOf } from './engine.js';
import { engineStatus } from './engine-status.js';
import { EngineListeners } from './engine-listeners.js';
import { HyperparamOverlay } from './hyperparam-update.js';
import { optimizerOf } from './optimizers.js';
import { snapshotLayout, weightsFile } from './snapshot-layout.js';

export interface PipelineEngineOptions {
  model: Model;
  modelSpec: ModelSpec;
  optimizer: DaemonOptimizerConfig;
  curvature?: CurvatureConfig;
  seed: number;
  queueLimit: number;
  workers?: number;
  shards?: number;
  resume?: EngineSnapshot;
  /** Ingest refuses features of larger magnitude (0 = no bound; default DEFAULT_MAX_FEATURE_MAGNITUDE). */
  maxFeatureMagnitude?: number;
  /** Consecutive skipped steps that stop training as diverged (0 = never; default DEFAULT_DIVERGENCE_STEPS). */
  divergenceSteps?: number;
  /** Tests only: make gradient or probe workers fail on purpose. */
  injectFailures?: { gradient?: FailureHook; probe?: FailureHook };
}

export class PipelineEngine extends EngineListeners implements TrainingEngine {
  readonly batchSpec: IngestSpec;
  private readonly queue: BatchQueue;
  private readonly watch: DivergenceWatch;
  private readonly overlay: HyperparamOverlay;
  private readonly pipeline: Pipeline<InjectedState>;
  private running = false;
  private stopping = false;
  private paused: boolean;
  /** Queued batches (from the head) handed to the current run and not yet applied. */
  private fed = 0;
  /** Whether the next step is held back: the pipeline was paused when the last step (or run) ended. */
  private gated = false;
  private feed: (() => void) | null = null;
  private run: Subscription | null = null;
  private stepDone: (() => void) | null = null;
  private lastLoss: number | null = null;
  /**
   * A worker failure past the retry bound (never the batch's fault: batches were validated on submit)
   * halts training with the batch kept at the head of the queue, as the trainer engine does (see failed()).
   */
  halted: EngineStatus['halted'] = null;
  /** The state at stop(): the pools are gone after it, so later snapshots return this. */
  private final: Promise<PipelineCheckpoint<InjectedState>> | null = null;
  private snapshots: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: PipelineEngineOptions) {
    super();
    this.batchSpec = ingestSpecOf(opts.model, opts.maxFeatureMagnitude ?? DEFAULT_MAX_FEATURE_MAGNITUDE);
    const { optimizer, check } = optimizerOf(opts.optimizer, opts.model);
    this.overlay = new HyperparamOverlay(optimizer, check);
    const r = opts.resume;
    this.queue = new BatchQueue(opts.queueLimit, r?.nextSeq ?? 1);
    if (r) this.queue.restore(r.queue, r.nextSeq);
    this.paused = r?.paused ?? false;
    this.watch = new DivergenceWatch(opts.divergenceSteps ?? DEFAULT_DIVERGENCE_STEPS, r?.diverged ?? null);
    // Batches were validated on submit, so no batchSpec: a refused batch would break seq ↔ step.
    this.pipeline = createPipeline<InjectedState>({
      model: opts.modelSpec,
      optimizer: this.overlay.optimizer(),
      seed: opts.seed,
      ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
      ...(opts.shards !== undefined ? { shards: opts.shards } : {}),
      ...(opts.curvature ? { curvature: opts.curvature } : {}),
      ...(opts.injectFailures ? { injectFailures: opts.injectFailures } : {}),
      ...(r
        ? {
            resumeFrom: {
              params: r.params,
              optState: r.optState as InjectedState,
              step: r.step,
              skipped: r.skipped,
              // A trainer checkpoint's Hutchinson estimates carry loss and gradient too; θ's probe needs neither.
              pending: r.pending.map((e) => ({ diag: e.diag, launchedAt: e.launchedAt })),
            },
          }
        : {}),
    });
    if (this.paused || this.diverged) this.pipeline.pause();
    // Emitted as the coordinator applies an estimate, before that step's metrics reach onStep.
    this.pipeline.probes$.subscribe(({ step, estimator, seconds }) => {
      this.emitProbe({ step, estimator, seconds });
    });
  }

  submit(batch: Batch): number | null {
    const seq = this.queue.offer(batch);
    if (seq !== null) this.feed?.();
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
    const s = this.pipeline.snapshot();
    const optimizer = {
      name: this.opts.optimizer.name,
      hyperparams: this.overlay.apply(s.optState).hyperparams,
    };
    return engineStatus(s, optimizer, this.queue, {
      paused: this.paused,
      lastLoss: this.lastLoss,
      halted: this.halted,
      diverged: this.watch.diverged,
    });
  }

  pause(): void {
    this.paused = true;
    // With no batch handed over, no step is computing, and none starts until resume().
    if (this.fed === 0) this.gated = true;
    this.pipeline.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.stopping) return;
    this.watch.clear(); // the operator's call: count skipped steps afresh
    this.gated = false;
    this.pipeline.resume();
    // Retry the kept batch: a new run continues from the state the pipeline kept (the last applied step).
    if (this.halted && this.running) {
      this.halted = null;
      this.startRun();
    }
  }

  setHyperparams(values: Record<string, unknown>): Record<string, number> {
    const s = this.pipeline.snapshot();
    return this.overlay.set(values, s.optState, s.params);
  }

  snapshot(): Promise<EngineSnapshot> {
    // Taken now, between steps (the coordinator applies a step synchronously): θ and the queue agree.
    const cp = this.final ?? this.pipeline.checkpoint();
    const queue = this.queue.snapshot();
    const nextSeq = this.queue.seqCounter;
    const paused = this.paused;
    const diverged = this.watch.diverged;
    // Resolved in call order, so checkpoints are written in step order.
    const snap = this.snapshots.then(async (): Promise<EngineSnapshot> => {
      const c = await cp;
      return {
        params: c.params,
        layout: snapshotLayout(this.opts.model),
        optState: this.overlay.apply(c.optState),
        step: c.step,
        pending: c.pending,
        skipped: c.skipped,
        queue,
        nextSeq,
        paused,
        optimizer: this.opts.optimizer.name,
        diverged,
      };
    });
    this.snapshots = snap.catch(() => undefined);
    return snap;
  }

  weights(): Uint8Array {
    return weightsFile(this.opts.model, this.pipeline.params(), this.pipeline.snapshot().step);
  }

  evaluate(batch: Batch): EvalResult {
    return evaluate(this.opts.model, this.pipeline.params(), [batch]);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.startRun();
  }

  async stop(): Promise<void> {
    if (this.final) return void (await this.final.catch(() => undefined));
    this.stopping = true;
    // Paused, no new step starts; the one computing (if any) is applied or fails, then the run ends.
    if (this.fed === 0) this.gated = true;
    this.pipeline.pause();
    if (this.run && !this.gated && this.fed > 0) await new Promise<void>((r) => (this.stepDone = r));
    this.running = false;
    this.run?.unsubscribe();
    this.run = null;
    this.final = this.pipeline.checkpoint();
    await this.final.catch(() => undefined);
    await this.pipeline.close();
  }

  private startRun(): void {
    this.fed = 0;
    this.gated = this.paused || this.diverged !== null;
    this.run = this.pipeline.run(this.source()).subscribe({
      next: (m) => this.applied(m),
      error: (e: unknown) => this.failed(e instanceof Error ? e : new Error(String(e))),
    });
  }

  /** The queue as a pull source: each credit hands over the next queued batch not yet fed. */
  private source(): PullSource<Batch> {
    return {
      pull: (demand$) =>
        new Observable<Batch>((subscriber) => {
          let credits = 0;
          const feed = () => {
            for (
              let next = this.queue.peekAt(this.fed);
              credits > 0 && next;
              next = this.queue.peekAt(this.fed)
            ) {
              credits--;
              this.fed++;
              subscriber.next(next.batch);
            }
          };
          this.feed = feed;
          const sub = demand$.subscribe((n) => {
            credits += n;
            feed();
          });
          return () => {
            sub.unsubscribe();
            if (this.feed === feed) this.feed = null;
          };
        }),
    };
  }

  private applied(m: StepMetrics): void {
    // Taken only now: a snapshot taken before this step was applied still holds the batch.
    const item = this.queue.take()!;
    this.fed--;
    // Listeners run before the pipeline lets the next step start, so a pause here holds it back.
    this.gated = this.paused || this.stopping;
    if (!m.skipped) this.lastLoss = m.loss;
    this.emitStep({ seq: item.seq, metrics: m });
    if (this.watch.observe(item.seq, m.step, m.skipped)) {
      // Hold the next step back, as a pause does; the batches fed ahead stay queued.
      this.gated = true;
      this.pipeline.pause();
      this.emitDiverged(this.watch.diverged!);
    }
    this.settle();
  }

  /**
   * A worker failure past the retry bound. The batch at the head of the queue was valid (checked on
   * submit), so the failure is not its own: it stays acknowledged and queued, and training halts until
   * resume() retries it (a graceful stop checkpoints it), like a failed trainer-engine step.
   */
  private failed(e: Error): void {
    this.run = null;
    this.feed = null;
    this.fed = 0;
    const item = this.queue.peek();
    if (item) {
      this.halted = { error: e.message, seq: item.seq };
      this.emitError(e, item.seq, false);
    } else if (this.running && !this.stopping)
      // No batch was in flight: nothing to keep, so a new run simply continues.
      setImmediate(() => this.running && !this.stopping && !this.halted && this.startRun());
    this.settle();
  }

  private settle(): void {
    const done = this.stepDone;
    this.stepDone = null;
    done?.();
  }
}
