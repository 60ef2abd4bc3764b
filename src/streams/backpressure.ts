/**
 * Credit-based flow control between the source and the stages. The pipeline grants `maxInFlight`
 * credits up front and one more per finished (or refused) batch, so at most `maxInFlight` batches are
 * ever between the source and the coordinator. A pull source is asked for exactly the credits; a push
 * source cannot be slowed, so its excess waits in a queue bounded by `maxQueued`, past which the stream
 * errors (a clear failure beats silently growing memory).
 */
import { Observable } from 'rxjs';
import { type PullSource, isPullSource } from './from-dataset.js';

export class BackpressureError extends Error {
  override readonly name = 'BackpressureError';
  readonly code = 'ERR_BACKPRESSURE';
}

export function withCredits<T>(
  source: Observable<T> | PullSource<T>,
  credits$: Observable<number>,
  maxQueued: number,
): Observable<T> {
  if (isPullSource<T>(source)) return source.pull(credits$);
  return new Observable<T>((subscriber) => {
    const queue: T[] = [];
    let credits = 0;
    let sourceDone = false;
    let draining = false;
    const drain = () => {
      if (draining) return;
      draining = true;
      while (credits > 0 && queue.length > 0 && !subscriber.closed) {
        credits--;
        subscriber.next(queue.shift() as T);
      }
      draining = false;
      if (sourceDone && queue.length === 0) subscriber.complete();
    };
    const creditSub = credits$.subscribe({
      next: (n) => {
        credits += n;
        drain();
      },
      error: (e) => subscriber.error(e),
    });
    const sourceSub = (source as Observable<T>).subscribe({
      next: (v) => {
        queue.push(v);
        if (queue.length > maxQueued) {
          subscriber.error(
            new BackpressureError(
              `the source is more than maxQueued = ${maxQueued} batches ahead of training; pull it (fromDataset) or slow it down`,
            ),
          );
          return;
        }
        drain();
      },
      error: (e) => subscriber.error(e),
      complete: () => {
        sourceDone = true;
        drain();
      },
    });
    return () => {
      creditSub.unsubscribe();
      sourceSub.unsubscribe();
    };
  });
}
