/**
 * The best-checkpoint sink of `hessflow train`: after each held-out evaluation whose loss is lower than
 * every earlier one (by more than `minDelta`), θ and the optimizer state are written to `<run>/best/`
 * (checkpoint.hfckpt and weights.safetensors), beside the last checkpoint. It also counts evaluations
 * since the best one, which early stopping reads (`patience`). Like checkpointEvery, θ is copied when
 * the step's metrics arrive, writes go one at a time in order, and the stream completes after the last
 * write; a failed write errors the stream.
 */
import { mkdirSync } from 'node:fs';
import { type MonoTypeOperatorFunction, Observable } from 'rxjs';
import { type RunArtifacts, writeModelFiles } from '../report/run-dir.js';
import { type TrainedState, stateAfter } from '../streams/trained-state.js';
import type { StepMetrics } from '../train/train.js';
import type { BestMeta } from './run-files.js';

export interface KeepBestOptions {
  dir: string;
  state: () => TrainedState;
  layout: RunArtifacts['layout'];
  /** The best checkpoint's meta. */
  meta: () => Record<string, unknown>;
  minDelta?: number;
}

/** The counters, updated in place as evaluations pass (start from a resumed run's). */
export function keepBest<M extends StepMetrics>(
  best: BestMeta,
  o: KeepBestOptions,
): MonoTypeOperatorFunction<M> {
  const minDelta = o.minDelta ?? 0;
  return (source) =>
    new Observable<M>((subscriber) => {
      let queue: Promise<void> = Promise.resolve();
      const sub = source.subscribe({
        next: (m) => {
          if (m.eval && Number.isFinite(m.eval.loss)) {
            if (best.bestLoss === null || m.eval.loss < best.bestLoss - minDelta) {
              let s: TrainedState;
              try {
                s = stateAfter('keepBest', o.state, m);
              } catch (e) {
                subscriber.error(e);
                return;
              }
              best.bestLoss = m.eval.loss;
              best.bestStep = m.step + 1;
              best.evalsSinceBest = 0;
              const artifacts: RunArtifacts = {
                params: s.params.slice(),
                layout: o.layout,
                optimizerState: s.optState,
                step: s.step,
                meta: { ...o.meta(), finalEval: m.eval, ...best },
              };
              queue = queue.then(async () => {
                mkdirSync(o.dir, { recursive: true });
                await writeModelFiles(o.dir, artifacts);
              });
              queue.catch((e: unknown) => subscriber.error(e));
            } else best.evalsSinceBest++;
          }
          subscriber.next(m);
        },
        error: (e) => subscriber.error(e),
        complete: () => {
          queue.then(
            () => subscriber.complete(),
            () => undefined, // already reported
          );
        },
      });
      return () => sub.unsubscribe();
    });
}
