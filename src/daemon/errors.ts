/**
 * Errors of the daemon. `IngestError` (a rejected input) lives with the wire format in src/data, since
 * every ingest path raises it; it is re-exported here for the daemon's code and its users.
 */
export { IngestError } from '../data/ingest-error.js';

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
