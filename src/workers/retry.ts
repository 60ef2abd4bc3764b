/**
 * Bounded retries for worker tasks. A task that throws, whose worker died (piscina rejects it), or that
 * answered with an `error` is tried again, up to `maxRetries` more times, with a fresh request each time
 * (transferred arrays of the failed attempt are gone). Past the bound the original cause is rethrown.
 */
import { deserializeError } from './errors.js';
import type { SerializedError } from './protocol.js';

export async function withRetries<R extends { error: SerializedError | null }>(
  attemptTask: (attempt: number) => Promise<R>,
  maxRetries: number,
  onRetry?: (attempt: number, cause: Error) => void,
): Promise<R> {
  let first: Error | null = null;
  for (let attempt = 0; ; attempt++) {
    let cause: Error;
    try {
      const r = await attemptTask(attempt);
      if (r.error === null) return r;
      cause = deserializeError(r.error);
    } catch (e) {
      cause = e instanceof Error ? e : new Error(String(e));
    }
    first ??= cause;
    if (attempt >= maxRetries) throw first;
    onRetry?.(attempt, cause);
  }
}
