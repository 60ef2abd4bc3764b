/**
 * The NDJSON metrics sink: one JSON line per step, written as the step passes (a crash keeps every line
 * before it). The file is opened on subscribe and closed when the stream completes, errors or is
 * unsubscribed, so an interrupted run leaves a complete, readable file.
 */
import { type MonoTypeOperatorFunction, Observable } from 'rxjs';
import { NdjsonWriter } from '../report/run-dir.js';

export interface WriteMetricsOptions {
  /** Append to an existing file (a resumed run) instead of starting it afresh. */
  append?: boolean;
}

export function writeMetrics<M>(
  path: string,
  options: WriteMetricsOptions = {},
): MonoTypeOperatorFunction<M> {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError(`writeMetrics: path must be a non-empty string, got ${JSON.stringify(path)}`);
  return (source) =>
    new Observable<M>((subscriber) => {
      let writer: NdjsonWriter;
      try {
        writer = new NdjsonWriter(path, options.append ?? false);
      } catch (e) {
        subscriber.error(e);
        return;
      }
      const sub = source.subscribe({
        next: (m) => {
          try {
            writer.write(m);
          } catch (e) {
            subscriber.error(e);
            return;
          }
          subscriber.next(m);
        },
        error: (e) => {
          writer.close();
          subscriber.error(e);
        },
        complete: () => {
          writer.close();
          subscriber.complete();
        },
      });
      return () => {
        sub.unsubscribe();
        writer.close();
      };
    });
}
