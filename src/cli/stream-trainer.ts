/**
 * The synchronous `Trainer` (the reference semantics, src/train/train.ts) driven by a pull source of
 * batches: one batch pulled, one step, the next pulled. It has the shape of the pipeline's run, stop,
 * snapshot and checkpoint, so `runStreamTraining` (src/cli/run-stream-training.ts) drives either engine
 * the same way: checkpoints with the last applied stream sequence, acknowledgement after they are durable,
 * resume after that sequence.
 *
 * Steps run one per macrotask (setImmediate between them), so the source's fetches, acknowledgements and
 * in-progress heartbeats and the checkpoint writes go on while it trains.
 */
import { BehaviorSubject, NEVER, Observable, type Subscription } from 'rxjs';
import type { Batch } from '../data/batch.js';
import type { BatchSpec } from '../data/validate.js';
import type { Model } from '../nn/model.js';
import type { GradientTransformation } from '../optim/transform.js';
import type { PipelineCheckpoint } from '../pipeline/checkpoint.js';
import type { PullSource } from '../streams/from-dataset.js';
import type { CurvatureConfig } from '../step/curvature-schedule.js';
import type { StepMetrics } from '../step/records.js';
import { Trainer } from '../train/train.js';

export interface SourceTrainerOptions<S> {
  model: Model;
  optimizer: GradientTransformation<S>;
  batchSpec: BatchSpec;
  /** The step budget in all (a resumed run continues up to it). */
  steps: number;
  seed: number;
  curvature?: CurvatureConfig;
  resumeFrom?: PipelineCheckpoint<S>;
}

export interface SourceTrainer<S> {
  /** Trains one step per batch of `source`; completes when the source does or after stop(). */
  run(source: PullSource<Batch>): Observable<StepMetrics>;
  /** The step in progress (if any) finishes; the run completes. */
  stop(): void;
  /** θ now. */
  snapshot(): { params: Float32Array; step: number };
  /** A copy of the whole state now, taken synchronously (what `resumeFrom` takes). */
  checkpoint(): Promise<PipelineCheckpoint<S>>;
  /** The Trainer checks every batch itself (a bad one errors the run): nothing is refused apart. */
  readonly errors$: Observable<{ step: number; reason: string; message: string }>;
  close(): Promise<void>;
}

export function sourceTrainer<S>(o: SourceTrainerOptions<S>): SourceTrainer<S> {
  let current: Batch | null = null;
  const trainer = new Trainer<S>({
    model: o.model,
    optimizer: o.optimizer,
    batchAt: (t) => {
      if (current === null) throw new Error(`sourceTrainer: no batch for step ${t}`);
      return current;
    },
    batchSpec: o.batchSpec,
    steps: o.steps,
    seed: o.seed,
    ...(o.curvature ? { curvature: o.curvature } : {}),
    ...(o.resumeFrom ? { resume: o.resumeFrom } : {}),
  });
  let stopRun: (() => void) | null = null;
  return {
    run(source) {
      return new Observable<StepMetrics>((subscriber) => {
        // One batch at a time: the next is asked for once its step is done.
        const demand$ = new BehaviorSubject<number>(1);
        const waiting: Batch[] = [];
        let sourceDone = false;
        let scheduled: ReturnType<typeof setImmediate> | null = null;
        let ended = false;
        // Unset while subscribing: a source with nothing to give completes inside subscribe().
        const link: { sub?: Subscription } = {};
        const end = () => {
          if (ended) return;
          ended = true;
          if (scheduled) clearImmediate(scheduled);
          link.sub?.unsubscribe();
          subscriber.complete();
        };
        const stepNext = () => {
          scheduled = null;
          const batch = waiting.shift();
          if (ended || batch === undefined) return;
          current = batch;
          let m: StepMetrics;
          try {
            m = trainer.step();
          } catch (e) {
            ended = true;
            link.sub?.unsubscribe();
            subscriber.error(e);
            return;
          } finally {
            current = null;
          }
          subscriber.next(m);
          if (ended) return;
          if (waiting.length > 0) scheduled = setImmediate(stepNext);
          else if (sourceDone) end();
          else demand$.next(1);
        };
        const sub = source.pull(demand$).subscribe({
          next: (b) => {
            waiting.push(b);
            scheduled ??= setImmediate(stepNext);
          },
          error: (e) => {
            ended = true;
            if (scheduled) clearImmediate(scheduled);
            subscriber.error(e);
          },
          complete: () => {
            sourceDone = true;
            if (waiting.length === 0 && scheduled === null) end();
          },
        });
        link.sub = sub;
        if (ended) sub.unsubscribe();
        stopRun = end;
        return () => {
          stopRun = null;
          ended = true;
          if (scheduled) clearImmediate(scheduled);
          link.sub?.unsubscribe();
        };
      });
    },
    stop() {
      stopRun?.();
    },
    snapshot() {
      const s = trainer.state();
      return { params: s.params.slice(), step: s.step };
    },
    checkpoint() {
      // A deep copy now: the write happens later, while training goes on.
      const s = structuredClone(trainer.state());
      return Promise.resolve({
        params: s.params,
        optState: s.optState,
        step: s.step,
        pending: s.pending,
        skipped: s.skipped,
      });
    },
    errors$: NEVER,
    close: () => Promise.resolve(),
  };
}
