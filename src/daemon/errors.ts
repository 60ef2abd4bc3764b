/**
 * Errors of the daemon. An `IngestError` is a rejected input: its `reason` is a short machine code that
 * is returned to the producer, counted in /metrics and logged; its message says what was wrong.
 */

export class IngestError extends Error {
  override readonly name = 'IngestError';
  constructor(
    readonly reason: string,
    message: string,
    /** HTTP status to answer with (400 unless said otherwise). */
    readonly status = 400,
  ) {
    super(message);
  }
}

/** A bad daemon config: names the key (dotted path), what was expected and what was given. */
export class DaemonConfigError extends Error {
  override readonly name = 'DaemonConfigError';
}

/** Another live daemon holds the checkpoint directory's lock. */
export class DaemonLockedError extends Error {
  override readonly name = 'DaemonLockedError';
  constructor(
    readonly lockPath: string,
    readonly holderPid: number | null,
    message: string,
  ) {
    super(message);
  }
}
