/**
 * A pull source over an (async) iterable: `next()` is called only when the pipeline grants credit, so a
 * generator that reads a file or a socket is never drained faster than training consumes it.
 */
import { Observable } from 'rxjs';
import type { PullSource } from './from-dataset.js';

export function fromAsyncIterable<T>(iterable: AsyncIterable<T> | Iterable<T>): PullSource<T> {
  return {
    pull(demand$: Observable<number>): Observable<T> {
      return new Observable<T>((subscriber) => {
        const it =
          Symbol.asyncIterator in iterable
            ? (iterable as AsyncIterable<T>)[Symbol.asyncIterator]()
            : (iterable as Iterable<T>)[Symbol.iterator]();
        let owed = 0;
        let pulling = false;
        let finished = false;
        const pump = async () => {
          if (pulling) return;
          pulling = true;
          try {
            while (owed > 0 && !finished && !subscriber.closed) {
              owed--;
              const r = await it.next();
              if (r.done) {
                finished = true;
                subscriber.complete();
              } else subscriber.next(r.value);
            }
          } catch (e) {
            subscriber.error(e);
          } finally {
            pulling = false;
          }
        };
        const sub = demand$.subscribe({
          next: (n) => {
            owed += n;
            void pump();
          },
          error: (e) => subscriber.error(e),
        });
        return () => {
          sub.unsubscribe();
          // Let a generator run its finally blocks when the pipeline stops early.
          if (!finished) void it.return?.();
        };
      });
    },
  };
}
