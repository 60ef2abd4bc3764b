/**
 * The error factory table (piscina's errors.ts style): every error the worker layer raises is made here,
 * with a stable `code`, so callers match on codes rather than message text.
 */
import type { SerializedError } from './protocol.js';

export class WorkerTaskError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WorkerTaskError';
  }
}

export const Errors = {
  StaleParams: (want: number, have: number) =>
    new WorkerTaskError(
      'ERR_STALE_PARAMS',
      `task expects parameter version ${want}, shared buffer holds ${have}`,
    ),
  LayoutMismatch: (want: number, have: number) =>
    new WorkerTaskError('ERR_LAYOUT_MISMATCH', `model has ${want} parameters, shared buffer holds ${have}`),
  UnknownTask: (kind: unknown) =>
    new WorkerTaskError('ERR_UNKNOWN_TASK', `unknown task kind ${JSON.stringify(kind)}`),
  InjectedFailure: (what: string, attempt: number) =>
    new WorkerTaskError('ERR_INJECTED_FAILURE', `injected failure in ${what} (attempt ${attempt})`),
  BadResponse: (what: string) =>
    new WorkerTaskError('ERR_BAD_RESPONSE', `malformed worker response: ${what}`),
  PoolClosed: () => new WorkerTaskError('ERR_POOL_CLOSED', 'the worker pool is closed'),
} as const;

/** Rebuilds an Error from its serialized form, keeping name, message, code and the worker's stack. */
export function deserializeError(s: SerializedError): Error {
  const e = s.code !== undefined ? new WorkerTaskError(s.code, s.message) : new Error(s.message);
  e.name = s.name;
  if (s.stack) e.stack = s.stack;
  return e;
}
