/**
 * A source of batches by step, `batchAt(t)` for t = start, start + 1, …, end − 1. Subscribed plainly it
 * pushes lazily (each batch is built as it is emitted); pulled with a demand stream it builds a batch only
 * when the pipeline asks for one, which is what bounds memory for a source faster than training.
 */
import { Observable } from 'rxjs';
import type { Batch } from '../data/batch.js';

/** A source that can be pulled: emits at most as many items as `demand$` has requested in total. */
export interface PullSource<T> {
  pull(demand$: Observable<number>): Observable<T>;
}

export function isPullSource<T>(s: unknown): s is PullSource<T> {
  return typeof (s as { pull?: unknown } | null)?.pull === 'function';
}

export interface FromDatasetOptions {
  /** Step after the last one (exclusive). */
  end: number;
  /** First step (default 0). */
  start?: number;
}

export class DatasetSource extends Observable<Batch> implements PullSource<Batch> {
  constructor(
    private readonly batchAt: (step: number) => Batch,
    private readonly start: number,
    private readonly end: number,
  ) {
    super((subscriber) => {
      for (let t = start; t < end && !subscriber.closed; t++) subscriber.next(batchAt(t));
      subscriber.complete();
    });
  }

  pull(demand$: Observable<number>): Observable<Batch> {
    return new Observable<Batch>((subscriber) => {
      let next = this.start;
      let owed = 0;
      let draining = false;
      const drain = () => {
        // A downstream stage may request more while we emit; loop instead of recursing.
        if (draining) return;
        draining = true;
        while (owed > 0 && next < this.end && !subscriber.closed) {
          owed--;
          subscriber.next(this.batchAt(next++));
        }
        draining = false;
        if (next >= this.end) subscriber.complete();
      };
      const sub = demand$.subscribe({
        next: (n) => {
          owed += n;
          drain();
        },
        error: (e) => subscriber.error(e),
      });
      if (this.start >= this.end) subscriber.complete();
      return sub;
    });
  }
}

export function fromDataset(batchAt: (step: number) => Batch, options: FromDatasetOptions): DatasetSource {
  const start = options.start ?? 0;
  if (!Number.isInteger(start) || start < 0)
    throw new RangeError(`fromDataset: start must be an integer >= 0, got ${start}`);
  if (!Number.isInteger(options.end) || options.end < start)
    throw new RangeError(`fromDataset: end must be an integer >= start (${start}), got ${options.end}`);
  return new DatasetSource(batchAt, start, options.end);
}
