/**
 * A rejected input at an ingest boundary (the daemon's HTTP and socket endpoints, a JetStream source):
 * its `reason` is a short machine code returned to the producer, counted in /metrics and logged; its
 * message says what was wrong.
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
