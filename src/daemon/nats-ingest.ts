/**
 * The daemon's NATS JetStream ingest (`ingest.nats` in the daemon config), beside HTTP and TCP: batches
 * are pulled from a durable consumer (src/streams/from-jetstream.ts: the same wire format, validator and
 * limit as the socket endpoint; refused messages dead-lettered with their reason) and submitted to the
 * engine's queue in stream order, waiting for room when it is full.
 *
 * Acknowledgement follows the daemon's checkpoints: once a checkpoint holding daemon sequence numbers up
 * to N − 1 (applied, or in its saved queue) is durable, `checkpointed(N)` records the stream position in
 * `nats-position.json` beside the checkpoints (atomically) and acknowledges the messages up to it. A
 * restarted daemon resumes the consumer after that position. The position is written just after the
 * checkpoint, so a crash in between (a few milliseconds) resubmits the messages of that last interval:
 * exactly once needs the position inside the checkpoint itself (`position()` is what to store there).
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
import { writeFileAtomic } from '../io/atomic-write.js';
import type { NatsIngestConfig } from './nats-ingest-config.js';
import {
  type JetStreamSource,
  type JetStreamSourceStatus,
  fromJetStream,
} from '../streams/from-jetstream.js';

export { natsIngestSchema } from './nats-ingest-config.js';
export type { NatsIngestConfig } from './nats-ingest-config.js';

export const NATS_POSITION_FILE = 'nats-position.json';

/** What the ingest needs of the engine (a TrainingEngine has it). */
export interface IngestTarget {
  readonly batchSpec: BatchSpec;
  submit(batch: Batch): number | null;
  whenRoom(): Promise<void>;
}

export interface NatsPosition {
  stream: string;
  consumer: string;
  /** Stream sequence of the last message covered by a durable checkpoint. */
  lastSeq: number;
  /** The daemon sequence after it. */
  nextDaemonSeq: number;
}

export interface NatsIngestStatus extends JetStreamSourceStatus {
  /** Stream sequence of the last batch the engine applied (this process), or the resumed position. */
  lastAppliedSeq: number;
  /** Messages submitted to the engine's queue by this process. */
  submitted: number;
}

export interface NatsIngestOptions {
  config: NatsIngestConfig;
  engine: IngestTarget;
  logger: Logger;
  /** The checkpoint directory: where the position file lives. */
  dir: string;
  /** The socket endpoint's frame limit, applied to messages too. */
  maxMessageBytes: number;
}

export class NatsIngest {
  private source: JetStreamSource | null = null;
  private sub: Subscription | null = null;
  /** Submitted and not yet covered by a checkpoint: [daemon seq, stream seq], in order. */
  private readonly pending: [number, number][] = [];
  private lastApplied = 0;
  private submitted = 0;
  private resumed: NatsPosition | null = null;
  private failure: Error | null = null;

  constructor(private readonly o: NatsIngestOptions) {}

  private get positionPath(): string {
    return join(this.o.dir, NATS_POSITION_FILE);
  }

  /** Connects and starts submitting; resolves once connected (rejects with a clear error if not). */
  async start(onFatal: (e: Error) => void): Promise<void> {
    const c = this.o.config;
    if (existsSync(this.positionPath)) {
      const p = JSON.parse(readFileSync(this.positionPath, 'utf8')) as NatsPosition;
      if (p.stream === c.stream && p.consumer === c.consumer) this.resumed = p;
    }
    this.lastApplied = this.resumed?.lastSeq ?? 0;
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
            const seq = this.o.engine.submit(batch);
            if (seq === null) {
              void this.o.engine.whenRoom().then(offer);
              return;
            }
            this.pending.push([seq, streamSeq]);
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
    for (const [d, s] of this.pending) {
      if (d === seq) {
        this.lastApplied = s;
        return;
      }
      if (d > seq) return;
    }
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
   * A checkpoint holding every daemon sequence below `nextDaemonSeq` is durable: record the position,
   * then acknowledge the messages it covers.
   */
  async checkpointed(nextDaemonSeq: number): Promise<void> {
    const p = this.position(nextDaemonSeq);
    await writeFileAtomic(this.positionPath, `${JSON.stringify(p)}\n`);
    let drop = 0;
    while (drop < this.pending.length && this.pending[drop][0] < nextDaemonSeq) drop++;
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
    this.sub?.unsubscribe();
    this.sub = null;
  }

  async close(): Promise<void> {
    this.sub?.unsubscribe();
    await this.source?.close();
  }
}
