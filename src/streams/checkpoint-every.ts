/**
 * The checkpoint sink: writes the run directory's checkpoint.hfckpt (θ, layout, optimizer state, step,
 * meta) and weights.safetensors after every `every`-th step and once more when the stream completes (a
 * finished run, or one stopped early), unless that state was just written. θ is copied when the step's
 * metrics arrive, so the write runs in the background while training goes on; writes happen one at a
 * time, in order, each atomically (a crash mid-write leaves the previous checkpoint intact), and the
 * stream completes only after the last one is on disk. A failed write errors the stream.
 */
import { type MonoTypeOperatorFunction, Observable } from 'rxjs';
import { type RunArtifacts, writeModelFiles } from '../report/run-dir.js';
import type { StepMetrics } from '../step/records.js';
import { carriedState } from '../step/event.js';
import { type TrainedState, checkEvery, stateAfter } from './trained-state.js';

export interface CheckpointWritten {
  step: number;
  checkpoint: string;
  weights: string;
}

export interface CheckpointEveryOptions {
  /** The run directory (must exist). */
  dir: string;
  /** Also write after steps every, 2·every, …; without it only at completion. */
  every?: number;
  /** Reads the state after a step; without it, the reader each step's metrics carry is used. */
  state?: () => TrainedState;
  layout: RunArtifacts['layout'];
  /** The checkpoint's meta, given the latest metrics (e.g. to record its held-out evaluation). */
  meta: (latest: StepMetrics | undefined) => Record<string, unknown>;
  onWritten?: (w: CheckpointWritten) => void;
}

export function checkpointEvery<M extends StepMetrics>(
  o: CheckpointEveryOptions,
): MonoTypeOperatorFunction<M> {
  const who = 'checkpointEvery';
  if (typeof o.dir !== 'string' || o.dir.length === 0)
    throw new TypeError(`${who}: dir must be a non-empty string, got ${JSON.stringify(o.dir)}`);
  const every = o.every === undefined ? undefined : checkEvery(who, 'every', o.every);
  return (source) =>
    new Observable<M>((subscriber) => {
      let queue: Promise<void> = Promise.resolve();
      let latest: M | undefined;
      let lastWritten = -1;
      const save = (s: TrainedState, m: M | undefined) => {
        // Copy now: the pipeline updates θ in place as soon as this call returns. The optimizer state is
        // never changed once handed out (a Trainer's are immutable values, a pipeline's snapshot is a
        // copy, since the pipeline recycles its own), so holding the reference is enough.
        const artifacts: RunArtifacts = {
          params: s.params.slice(),
          layout: o.layout,
          optimizerState: s.optState,
          step: s.step,
          meta: o.meta(m),
        };
        lastWritten = s.step;
        queue = queue.then(async () => {
          const paths = await writeModelFiles(o.dir, artifacts);
          o.onWritten?.({ step: artifacts.step, ...paths });
        });
        queue.catch((e: unknown) => subscriber.error(e));
      };
      const sub = source.subscribe({
        next: (m) => {
          latest = m;
          if (every !== undefined && (m.step + 1) % every === 0) {
            try {
              save(stateAfter(who, o.state, m), m);
            } catch (e) {
              subscriber.error(e);
              return;
            }
          }
          subscriber.next(m);
        },
        error: (e) => subscriber.error(e),
        complete: () => {
          try {
            // The state now: the reader given, or the one the last step carried (none: no step ran,
            // nothing to write).
            const read = o.state ?? (latest && carriedState(latest));
            const s = read?.();
            if (s && s.step !== lastWritten) save(s, latest);
          } catch (e) {
            subscriber.error(e);
            return;
          }
          queue.then(
            () => subscriber.complete(),
            () => undefined, // already reported by save()
          );
        },
      });
      return () => sub.unsubscribe();
    });
}
