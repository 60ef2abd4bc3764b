/**
 * The daemon's NATS JetStream ingest (`ingest.nats` in the daemon config), beside HTTP and TCP: batches
 * are pulled from a durable consumer (src/streams/from-jetstream.ts: the same wire format, validator and
 * limit as the socket endpoint; refused messages dead-lettered with their reason) and submitted to the
 * engine's queue in stream order, waiting for room when it is full.
 *
 * Exactly once, with the daemon's checkpoints:
 * - `position(nextSeq)` is the stream position a checkpoint holding daemon sequence numbers below
 *   `nextSeq` (applied, or in its saved queue) covers; the daemon stores it in that checkpoint
 *   (`meta.nats`), so the stream position and the state it belongs to are written in one atomic file.
 * - Messages are acknowledged only once that checkpoint is durable (`checkpointed(position)`); until then
 *   the source keeps them in progress, so AckWait never expires during a checkpoint interval.
 * - A daemon resumed from a checkpoint (`resumeFrom`, its `meta.nats`) consumes from the message after
 *   its position and acknowledges redeliveries at or below it without training.
 *
 * Credentials come from `tokenFile`, `tokenEnv` or `credsFile` and are never logged. `status()` feeds
 * `/v1/status` (`nats`), `registerMetrics` the `hessflow_nats_*` gauges of `/metrics`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { BehaviorSubject, type Subscription } from 'rxjs';
import type { Batch } from '../data/batch.js';
import type { BatchSpec } from '../data/validate.js';
import { type NatsIngestConfig, type NatsPosition, natsPositionSchema } from './nats-ingest-config.js';
import {
  type JetStreamSource,
  type JetStreamSourceStatus,
  fromJetStream,
} from '../streams/from-jetstream.js';

export { natsIngestSchema } from './nats-ingest-config.js';
export type { NatsIngestConfig, NatsPosition } from './nats-ingest-config.js';

/**
 * Where daemons before the position was part of the checkpoint recorded it (written just after each
 * checkpoint). Read only when the resumed checkpoint holds no position; never written.
 */
export const LEGACY_POSITION_FILE = 'nats-position.json';

/** What the ingest needs of the engine (a TrainingEngine has it). */
export interface IngestTarget {
  readonly batchSpec: BatchSpec;
  submit(batch: Batch): number | null;
  whenRoom(): Promise<void>;
}

export interface NatsIngestStatus extends JetStreamSourceStatus {
  /**
   * Stream sequence of the last batch the engine applied (this process), or the resumed checkpoint's
   * position (which includes the batches of its saved queue).
   */
  lastAppliedSeq: number;
  /** Messages submitted to the engine's queue by this process. */
  submitted: number;
}

export interface NatsIngestOptions {
  config: NatsIngestConfig;
  engine: IngestTarget;
  logger: Logger;
  /** The checkpoint directory (where a legacy position file may be). */
  dir: string;
  /** The position stored in the checkpoint the daemon resumed from (`meta.nats`), if any. */
  resumeFrom?: NatsPosition;
  /** The socket endpoint's frame limit, applied to messages too. */
  maxMessageBytes: number;
}

export class NatsIngest {
  private source: JetStreamSource | null = null;
  private sub: Subscription | null = null;
  /** Submitted and not yet covered by a checkpoint: [daemon seq, stream seq], in order. */
  private readonly pending: [number, number][] = [];
  /**
   * Submitted and not yet applied: [daemon seq, stream seq], in order. Kept apart from `pending`, since a
   * checkpoint also covers the batches still queued (they are in it), which are applied only later.
   */
  private readonly unapplied: [number, number][] = [];
  private lastApplied = 0;
  private submitted = 0;
  /** The position of the newest durable checkpoint (or the one resumed from). */
  private resumed: NatsPosition | null = null;
  private failure: Error | null = null;
  private stopped = false;

  constructor(private readonly o: NatsIngestOptions) {
    const c = o.config;
    const log = o.logger.child({ ingest: 'nats', stream: c.stream, consumer: c.consumer });
    const p = o.resumeFrom ?? this.legacyPosition();
    if (p && (p.stream !== c.stream || p.consumer !== c.consumer))
      log.warn(
        { checkpoint: { stream: p.stream, consumer: p.consumer } },
        'the checkpoint holds a position of another stream or consumer: consuming from the start',
      );
    else if (p) this.resumed = p;
    this.lastApplied = this.resumed?.lastSeq ?? 0;
  }

  private legacyPosition(): NatsPosition | null {
    const path = join(this.o.dir, LEGACY_POSITION_FILE);
    if (!existsSync(path)) return null;
    const p = natsPositionSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return p.success ? p.data : null;
  }

  /** Connects and starts submitting; resolves once connected (rejects with a clear error if not). */
  async start(onFatal: (e: Error) => void): Promise<void> {
    const c = this.o.config;
    const log = this.o.logger.child({ ingest: 'nats', stream: c.stream, consumer: c.consumer });
    const source = fromJetStream({
      servers: c.servers,
      stream: c.stream,
      consumer: c.consumer,
      ...(c.subject ? { subject: c.subject } : {}),
      ...(c.tokenFile ? { tokenFile: c.tokenFile } : {}),
      ...(c.tokenEnv ? { tokenEnv: c.tokenEnv } : {}),
      ...(c.credsFile ? { credsFile: c.credsFile } : {}),
      ...(c.deadLetterSubject ? { deadLetterSubject: c.deadLetterSubject } : {}),
      ackWaitMs: c.ackWaitMs,
      maxOutageMs: c.maxOutageMs,
      batchSpec: this.o.engine.batchSpec,
      maxMessageBytes: this.o.maxMessageBytes,
      startAfter: this.resumed?.lastSeq ?? 0,
      onDeadLetter: (d) => log.warn({ reason: d.reason, seq: d.seq }, `dead-lettered: ${d.message}`),
      onEvent: (e) => log.info({ event: e.event, detail: e.detail }, `nats ${e.event}`),
    });
    this.source = source;
    const demand$ = new BehaviorSubject<number>(1);
    let emitted = 0;
    await new Promise<void>((resolve, reject) => {
      let started = false;
      this.sub = source.pull(demand$).subscribe({
        next: (batch) => {
          if (!started) {
            started = true;
            resolve();
          }
          const streamSeq = source.sequenceAt(emitted++);
          const offer = () => {
            // Stopped (shutdown): not submitted, not acknowledged, delivered again after a restart.
            if (this.stopped) return;
            const seq = this.o.engine.submit(batch);
            if (seq === null) {
              void this.o.engine.whenRoom().then(offer);
              return;
            }
            this.pending.push([seq, streamSeq]);
            this.unapplied.push([seq, streamSeq]);
            this.submitted++;
            demand$.next(1);
          };
          offer();
        },
        error: (e: Error) => {
          this.failure = e;
          if (!started) reject(e);
          else onFatal(e);
        },
      });
      // Connected with nothing to read yet is started too.
      const poll = setInterval(() => {
        if (source.status().connected && !started) {
          started = true;
          clearInterval(poll);
          resolve();
        } else if (started || this.failure) clearInterval(poll);
      }, 50);
    });
    log.info(
      { resumeAfter: this.resumed?.lastSeq ?? 0 },
      this.resumed
        ? `NATS ingest resumes after stream sequence ${this.resumed.lastSeq}`
        : 'NATS ingest started',
    );
  }

  /** The engine applied the batch of daemon sequence `seq` (AppliedStep.seq). */
  applied(seq: number): void {
    // Steps apply in daemon-seq order; a seq not found came from a checkpoint's saved queue.
    let drop = 0;
    while (drop < this.unapplied.length && this.unapplied[drop][0] <= seq) {
      if (this.unapplied[drop][0] === seq) this.lastApplied = this.unapplied[drop][1];
      drop++;
    }
    this.unapplied.splice(0, drop);
  }

  /** The stream position a checkpoint whose next daemon sequence is `nextDaemonSeq` covers. */
  position(nextDaemonSeq: number): NatsPosition {
    let lastSeq = this.resumed?.lastSeq ?? 0;
    for (const [d, s] of this.pending) {
      if (d >= nextDaemonSeq) break;
      lastSeq = s;
    }
    const c = this.o.config;
    return { stream: c.stream, consumer: c.consumer, lastSeq, nextDaemonSeq };
  }

  /**
   * A checkpoint holding position `p` (from `position()`) is durable: acknowledge the messages it covers.
   * The daemon reports its checkpoints in the order they were written.
   */
  checkpointed(p: NatsPosition): void {
    let drop = 0;
    while (drop < this.pending.length && this.pending[drop][0] < p.nextDaemonSeq) drop++;
    this.pending.splice(0, drop);
    this.resumed = { ...p };
    this.source?.durable(p.lastSeq);
  }

  status(): NatsIngestStatus | null {
    if (!this.source) return null;
    return { ...this.source.status(), lastAppliedSeq: this.lastApplied, submitted: this.submitted };
  }

  /** `hessflow_nats_*` gauges, read from status() at each scrape. */
  registerMetrics(registry: Registry): void {
    const status = () => this.status();
    const make = (n: string, help: string, read: (s: NatsIngestStatus) => number | null) => {
      const gauge: Gauge = new Gauge({
        name: n,
        help,
        registers: [registry],
        collect() {
          const s = status();
          const v = s ? read(s) : null;
          if (v !== null && Number.isFinite(v)) gauge.set(v);
        },
      });
    };
    make(
      'hessflow_nats_consumer_lag',
      'Messages of the stream not yet trained (undelivered + fetched)',
      (s) => s.lag,
    );
    make('hessflow_nats_redeliveries_total', 'Deliveries that were redeliveries', (s) => s.redeliveries);
    make('hessflow_nats_dead_letters_total', 'Messages refused and dead-lettered', (s) => s.deadLetters);
    make(
      'hessflow_nats_last_applied_sequence',
      'Stream sequence of the last applied batch',
      (s) => s.lastAppliedSeq,
    );
    make('hessflow_nats_connected', '1 while connected to NATS', (s) => (s.connected ? 1 : 0));
    make('hessflow_nats_reconnects_total', 'Reconnections to NATS', (s) => s.reconnects);
  }

  /** Stops taking messages (shutdown); acknowledgements still go out until close(). */
  stopIngest(): void {
    this.stopped = true;
    this.sub?.unsubscribe();
    this.sub = null;
  }

  async close(): Promise<void> {
    this.sub?.unsubscribe();
    await this.source?.close();
  }
}
