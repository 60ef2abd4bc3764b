/**
 * `fromJetStream(options)`: a pull source of training batches from a NATS JetStream stream, through a
 * durable pull consumer with explicit acks, in stream order. One message is one batch in the daemon's
 * socket wire format (a msgpack `{inputs, inputShape, targets, targetShape, id?}`), decoded and checked by
 * the same code (`decodeBatch`) with the same size limit; a refused message is published with its reason
 * to the dead-letter subject, terminated (never redelivered) and counted, and the stream goes on.
 *
 * Exactly once, with the trainer's checkpoints:
 * - A message is acknowledged only once the trainer says a checkpoint covering it is durable
 *   (`durable(seq)`); until then it is held and kept in progress (`working()` every AckWait/3), so AckWait
 *   never expires during a checkpoint interval, however long.
 * - `startAfter` is the last applied sequence of the checkpoint the trainer resumed from. At start the
 *   consumer is positioned right after it (re-created with `opt_start_seq`), so the messages a crashed
 *   trainer had received and not acknowledged come back at once and in order, instead of after AckWait
 *   and behind newer ones. Any message at or below `startAfter` that is delivered anyway (a redelivery of
 *   a message whose ack was lost) is acknowledged without training.
 * - The sequence of each emitted batch is kept (`sequenceAt(k)`), so the trainer can store the last
 *   applied sequence in its checkpoint.
 * - A lost delivery (a gap in the consumer's delivery sequence, e.g. a pull answered while the connection
 *   or the consumer leader changed) or a failed pull re-positions the consumer right after the last
 *   message received, so order is kept and nothing is skipped.
 *
 * Reconnects are the client's (backoff with jitter); an outage longer than `maxOutageMs`, or a consumer
 * that cannot be served that long, errors the stream with a clear message. `status()` reports it.
 */
import {
  AckPolicy,
  type Consumer,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import { type NatsConnection, headers, nanos } from '@nats-io/transport-node';
import { Observable } from 'rxjs';
import type { Batch } from '../data/batch.js';
import type { BatchSpec } from '../data/validate.js';
import { IngestError } from '../data/ingest-error.js';
import { decodeBatch } from '../data/wire.js';
import type { PullSource } from './from-dataset.js';
import {
  type ConnectionState,
  type NatsConnectOptions,
  NatsConnectError,
  connectNats,
  natsErrorText,
  watchConnection,
} from './nats-connection.js';

export interface FromJetStreamOptions extends NatsConnectOptions {
  stream: string;
  /** The durable consumer's name; the source creates it (and re-positions it at start). */
  consumer: string;
  /** Only messages on this subject (default: every subject of the stream). */
  subject?: string;
  /** What a batch must look like (the model's): the daemon's validator checks it. */
  batchSpec: BatchSpec;
  /** Largest message accepted, in bytes (default 1 MiB, the daemon's `maxFrameBytes` default). */
  maxMessageBytes?: number;
  /** Where refused messages go, with their reason (default `hessflow.dlq.<stream>`). */
  deadLetterSubject?: string;
  /** The last stream sequence already applied (from the checkpoint resumed); 0 for a fresh run. */
  startAfter?: number;
  /** Complete after emitting this many batches (a step budget); unbounded by default. */
  limit?: number;
  /** The consumer's AckWait in ms (default 30000); held messages are kept in progress well within it. */
  ackWaitMs?: number;
  /** Messages fetched ahead of the pipeline (default 64)… */
  prefetch?: number;
  /** …and at most about this many bytes of them (default 32 MiB; at least one message). */
  prefetchBytes?: number;
  /** The consumer's max_ack_pending (default 65536): more than a checkpoint interval's batches. */
  maxAckPending?: number;
  /** An outage (no connection, or no pull served) longer than this errors the stream (default 60000). */
  maxOutageMs?: number;
  /**
   * Re-create the consumer at `startAfter` + 1 on start (default true). With false an existing consumer
   * is reused as is: redeliveries at or below `startAfter` are acknowledged without training, but
   * messages a crashed trainer held come back only after AckWait, behind newer ones.
   */
  reposition?: boolean;
  /** Called for each refused message. */
  onDeadLetter?: (d: DeadLetter) => void;
  /** Called on a connection or consumer event worth logging (never with credentials). */
  onEvent?: (e: { event: string; detail?: string }) => void;
}

export interface DeadLetter {
  seq: number;
  subject: string;
  reason: string;
  message: string;
}

export interface JetStreamSourceStatus {
  stream: string;
  consumer: string;
  connected: boolean;
  reconnects: number;
  /** Since when the broker or consumer has been unreachable (ISO time), or null. */
  downSince: string | null;
  lastError: string | null;
  /** Messages in the stream not yet delivered to this source plus those received and not yet trained. */
  lag: number | null;
  /** Deliveries that were redeliveries. */
  redeliveries: number;
  deadLetters: number;
  deadLettersByReason: Record<string, number>;
  /** Redelivered messages at or below the checkpoint's sequence, acknowledged without training. */
  skippedApplied: number;
  /** Consumer re-positionings after a lost delivery or a failed pull. */
  repositions: number;
  /** Sequence of the last batch handed to the pipeline. */
  lastEmittedSeq: number;
  /** The highest sequence the trainer reported durable (acknowledged). */
  lastDurableSeq: number;
  /** Messages received and not yet acknowledged. */
  held: number;
}

export interface JetStreamSource extends PullSource<Batch> {
  /** The stream sequence of the k-th batch emitted (k from 0), until `durable` passes it. */
  sequenceAt(k: number): number;
  /** A checkpoint covering every batch up to stream sequence `seq` is durable: acknowledge them. */
  durable(seq: number): void;
  status(): JetStreamSourceStatus;
  /** Stops fetching and heartbeats and closes the connection (after the last `durable`). */
  close(): Promise<void>;
}

export class JetStreamSourceError extends Error {
  override readonly name = 'JetStreamSourceError';
}

const DEFAULT_MAX_BYTES = 1 << 20;

function positiveInt(who: string, v: number | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min)
    throw new RangeError(`fromJetStream: ${who} must be an integer >= ${min}, got ${v}`);
  return v;
}

export function fromJetStream(o: FromJetStreamOptions): JetStreamSource {
  if (typeof o.stream !== 'string' || !/^[^\s.*>]+$/.test(o.stream))
    throw new RangeError(`fromJetStream: stream must be a stream name, got ${JSON.stringify(o.stream)}`);
  if (typeof o.consumer !== 'string' || !/^[^\s.*>]+$/.test(o.consumer))
    throw new RangeError(`fromJetStream: consumer must be a durable name, got ${JSON.stringify(o.consumer)}`);
  const maxBytes = positiveInt('maxMessageBytes', o.maxMessageBytes, DEFAULT_MAX_BYTES);
  const ackWaitMs = positiveInt('ackWaitMs', o.ackWaitMs, 30_000, 300);
  const prefetch = positiveInt('prefetch', o.prefetch, 64);
  const prefetchBytes = positiveInt('prefetchBytes', o.prefetchBytes, 32 << 20);
  // Mean message size so far, to keep a fetch of large batches within prefetchBytes.
  let meanBytes = 0;
  let sizeSamples = 0;
  const maxAckPending = positiveInt('maxAckPending', o.maxAckPending, 65_536);
  const maxOutageMs = positiveInt('maxOutageMs', o.maxOutageMs, 60_000);
  const startAfter = positiveInt('startAfter', o.startAfter, 0, 0);
  const limit = o.limit === undefined ? Infinity : positiveInt('limit', o.limit, 0, 0);
  const dlq = o.deadLetterSubject ?? `hessflow.dlq.${o.stream}`;
  const event = (e: string, detail?: string) => o.onEvent?.({ event: e, ...(detail ? { detail } : {}) });

  const conn: ConnectionState = { connected: false, reconnects: 0, downSince: null, lastError: null };
  const counts = {
    redeliveries: 0,
    deadLetters: 0,
    byReason: {} as Record<string, number>,
    skippedApplied: 0,
    repositions: 0,
  };
  // Received, in stream order, not yet acknowledged: the emitted ones wait for a durable checkpoint.
  const held = new Map<number, JsMsg>();
  // Received and not yet emitted (a subset of held), in stream order.
  const ready: { seq: number; batch: Batch }[] = [];
  // Sequences of emitted batches still needed by sequenceAt: emitted[k - emittedBase].
  const emitted: number[] = [];
  let emittedBase = 0;
  let emittedCount = 0;
  let highestReceived = startAfter;
  let durableSeq = startAfter;
  let lastPending: number | null = null;
  let nc: NatsConnection | null = null;
  let closed = false;
  let heartbeat: NodeJS.Timeout | null = null;
  let stopWatch: (() => void) | null = null;
  let subscribed = false;

  const ensureConsumer = async (jsm: JetStreamManager, after: number, recreate: boolean) => {
    if (recreate) {
      try {
        await jsm.consumers.delete(o.stream, o.consumer);
      } catch (e) {
        if (!/not found/i.test(natsErrorText(e))) throw e;
      }
    } else {
      try {
        await jsm.consumers.info(o.stream, o.consumer);
        return;
      } catch (e) {
        if (!/not found/i.test(natsErrorText(e))) throw e;
      }
    }
    await jsm.consumers.add(o.stream, {
      durable_name: o.consumer,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(ackWaitMs),
      max_ack_pending: maxAckPending,
      ...(after > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 }
        : { deliver_policy: DeliverPolicy.All }),
      ...(o.subject ? { filter_subject: o.subject } : {}),
    });
  };

  const deadLetter = async (js: JetStreamClient, m: JsMsg, reason: string, message: string) => {
    counts.deadLetters++;
    counts.byReason[reason] = (counts.byReason[reason] ?? 0) + 1;
    const h = headers();
    h.set('Hessflow-Reason', reason);
    h.set('Hessflow-Error', message.slice(0, 1000));
    h.set('Hessflow-Stream', o.stream);
    h.set('Hessflow-Seq', String(m.seq));
    h.set('Hessflow-Subject', m.subject);
    try {
      // The id makes a dead letter written again after a restart a duplicate the DLQ stream drops.
      await js.publish(dlq, m.data, { headers: h, msgID: `dlq:${o.stream}:${m.seq}`, timeout: 5000 });
    } catch {
      // No stream captures the dead-letter subject: publish it plainly, for whoever listens.
      nc?.publish(dlq, m.data, { headers: h });
    }
    // Plain +TERM: nats-server 2.9 ignores "+TERM <reason>" (the reason is in the dead letter anyway).
    m.term();
    o.onDeadLetter?.({ seq: m.seq, subject: m.subject, reason, message });
  };

  const source: JetStreamSource = {
    pull(demand$) {
      return new Observable<Batch>((subscriber) => {
        if (subscribed) {
          subscriber.error(new JetStreamSourceError('fromJetStream: a source can be pulled only once'));
          return;
        }
        subscribed = true;
        let owed = 0;
        let stopped = false;
        let wake: (() => void) | null = null;
        const wakeUp = () => {
          const w = wake;
          wake = null;
          w?.();
        };
        const fail = (e: Error) => {
          if (stopped) return;
          stopped = true;
          wakeUp();
          subscriber.error(e);
        };
        const pump = () => {
          while (!stopped && owed > 0 && ready.length > 0 && emittedCount < limit) {
            owed--;
            const r = ready.shift()!;
            emitted.push(r.seq);
            emittedCount++;
            subscriber.next(r.batch);
          }
          if (!stopped && emittedCount >= limit) {
            stopped = true;
            subscriber.complete();
          }
          wakeUp();
        };
        const demand = demand$.subscribe({
          next: (n) => {
            owed += n;
            pump();
          },
          error: (e) => fail(e as Error),
        });

        const handle = async (js: JetStreamClient, m: JsMsg): Promise<void> => {
          const seq = m.seq;
          sizeSamples = Math.min(sizeSamples + 1, 100);
          meanBytes += (m.data.length - meanBytes) / sizeSamples;
          if (m.redelivered) counts.redeliveries++;
          lastPending = m.info.pending;
          if (seq <= durableSeq) {
            // Applied and covered by a durable checkpoint: its ack was lost or it predates the restart.
            counts.skippedApplied++;
            m.ack();
            return;
          }
          if (held.has(seq)) {
            // A redelivery of a message we hold (its heartbeat was lost): ack the newest delivery later.
            held.set(seq, m);
            return;
          }
          // Below highestReceived only without re-positioning: a message a crashed trainer held, back
          // after AckWait behind newer ones. It was never applied (it is above the checkpoint): train it.
          highestReceived = Math.max(highestReceived, seq);
          let batch: Batch;
          try {
            if (m.data.length > maxBytes)
              throw new IngestError(
                'frame_too_large',
                `message of ${m.data.length} bytes exceeds the ${maxBytes}-byte limit`,
                413,
              );
            batch = decodeBatch(m.data, 'msgpack', o.batchSpec);
          } catch (e) {
            const reason = e instanceof IngestError ? e.reason : 'internal';
            await deadLetter(js, m, reason, e instanceof Error ? e.message : String(e));
            return;
          }
          held.set(seq, m);
          ready.push({ seq, batch });
          pump();
        };

        const run = async () => {
          let jsm: JetStreamManager;
          let js: JetStreamClient;
          try {
            nc = await connectNats({ ...o, name: o.name ?? `hessflow ${o.stream}/${o.consumer}` });
            conn.connected = true;
            stopWatch = watchConnection(nc, conn, maxOutageMs, fail, (s) =>
              event(s.connected ? 'reconnected' : 'disconnected', s.lastError ?? undefined),
            );
            js = jetstream(nc, { timeout: 5000 });
            // A missing stream is an error at once; anything else (a cluster electing a leader, a
            // timeout, also of the manager's first account-info request) is retried with backoff for up
            // to maxOutageMs.
            const since = Date.now();
            for (let wait = 100; ; wait = Math.min(wait * 2, 2000)) {
              try {
                jsm = await jetstreamManager(nc, { timeout: 5000 });
                await jsm.streams.info(o.stream);
                await ensureConsumer(jsm, startAfter, o.reposition !== false);
                conn.lastError = null;
                break;
              } catch (e) {
                const text = natsErrorText(e);
                if (/stream not found/i.test(text) || Date.now() - since > maxOutageMs)
                  throw new JetStreamSourceError(`JetStream stream ${o.stream} is not available: ${text}`);
                conn.lastError = text;
                event('start_retry', text);
                await new Promise((r) => setTimeout(r, wait));
                if (stopped) return;
              }
            }
          } catch (e) {
            throw e instanceof NatsConnectError || e instanceof JetStreamSourceError
              ? e
              : new JetStreamSourceError(`cannot start the JetStream source: ${natsErrorText(e)}`);
          }
          // Keep every held message in progress: AckWait must not expire while it waits for a checkpoint.
          heartbeat = setInterval(
            () => {
              for (const m of held.values()) m.working();
            },
            Math.max(100, Math.floor(ackWaitMs / 3)),
          );
          let consumer: Consumer | null = null;
          let failingSince: number | null = null;
          let backoff = 100;
          let needReposition = false;
          while (!stopped) {
            const byBytes = meanBytes > 0 ? Math.max(1, Math.floor(prefetchBytes / meanBytes)) : 8;
            const room = Math.min(
              Math.min(prefetch, byBytes) - ready.length,
              limit - emittedCount - ready.length,
            );
            if (room <= 0) {
              await new Promise<void>((r) => (wake = r));
              continue;
            }
            try {
              if (needReposition) {
                await ensureConsumer(jsm, highestReceived, true);
                counts.repositions++;
                event('repositioned', `after sequence ${highestReceived}`);
                consumer = null;
                needReposition = false;
              }
              consumer ??= await js.consumers.get(o.stream, o.consumer);
              const iter = await consumer.fetch({ max_messages: room, expires: 1000 });
              let lastDelivery: number | null = null;
              for await (const m of iter) {
                if (stopped) break;
                const d = m.info.deliverySequence;
                if (lastDelivery !== null && d !== lastDelivery + 1) {
                  // A delivery went missing: whatever it was, re-position after what we have.
                  needReposition = true;
                  event('lost_delivery', `delivery ${lastDelivery + 1}..${d - 1}`);
                  break;
                }
                lastDelivery = d;
                await handle(js, m);
              }
              failingSince = null;
              backoff = 100;
              if (!conn.connected) conn.connected = true;
            } catch (e) {
              if (stopped) break;
              const text = natsErrorText(e);
              conn.lastError = text;
              failingSince ??= Date.now();
              conn.downSince ??= failingSince;
              event('pull_failed', text);
              if (Date.now() - failingSince > maxOutageMs) {
                fail(
                  new JetStreamSourceError(
                    `JetStream consumer ${o.stream}/${o.consumer} not served for ${maxOutageMs} ms: ${text}`,
                  ),
                );
                break;
              }
              needReposition = true;
              await new Promise((r) => setTimeout(r, backoff));
              backoff = Math.min(backoff * 2, 5000);
            }
            if (failingSince === null && conn.connected) conn.downSince = null;
          }
        };
        run().catch((e: unknown) => fail(e instanceof Error ? e : new Error(String(e))));

        return () => {
          stopped = true;
          demand.unsubscribe();
          wakeUp();
        };
      });
    },
    sequenceAt(k) {
      const i = k - emittedBase;
      if (!Number.isInteger(k) || i < 0 || i >= emitted.length)
        throw new RangeError(
          `fromJetStream: no sequence for batch ${k} (kept: ${emittedBase}..${emittedBase + emitted.length - 1})`,
        );
      return emitted[i];
    },
    durable(seq) {
      if (seq <= durableSeq) return;
      durableSeq = seq;
      for (const [s, m] of held) {
        if (s > seq) break;
        m.ack();
        held.delete(s);
      }
      // Sequences at or below a durable one are no longer asked for.
      let drop = 0;
      while (drop < emitted.length - 1 && emitted[drop] <= seq) drop++;
      if (drop > 0) {
        emitted.splice(0, drop);
        emittedBase += drop;
      }
    },
    status() {
      return {
        stream: o.stream,
        consumer: o.consumer,
        connected: conn.connected,
        reconnects: conn.reconnects,
        downSince: conn.downSince === null ? null : new Date(conn.downSince).toISOString(),
        lastError: conn.lastError,
        lag: lastPending === null ? null : lastPending + ready.length,
        redeliveries: counts.redeliveries,
        deadLetters: counts.deadLetters,
        deadLettersByReason: { ...counts.byReason },
        skippedApplied: counts.skippedApplied,
        repositions: counts.repositions,
        lastEmittedSeq: emitted.length > 0 ? emitted[emitted.length - 1] : startAfter,
        lastDurableSeq: durableSeq,
        held: held.size,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (heartbeat) clearInterval(heartbeat);
      stopWatch?.();
      const c = nc;
      nc = null;
      if (c) {
        try {
          // Flush the last acks before closing.
          await c.flush();
        } catch {
          // already gone
        }
        await c.close().catch(() => undefined);
      }
    },
  };
  return source;
}
