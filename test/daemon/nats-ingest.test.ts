/**
 * The daemon's NATS ingest (src/daemon/nats-ingest.ts) against a real nats-server and a queue standing in
 * for the engine: stream order into the queue, waiting for room, malformed messages dead-lettered,
 * acknowledgement only after a covering checkpoint, resume after the recorded position, status and
 * /metrics gauges, a token never in the log.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import type { Batch } from '../../src/data/batch.js';
import { NatsIngest, natsIngestSchema } from '../../src/daemon/nats-ingest.js';
import { natsSkipReason, startNatsServer } from '../helpers/nats-server.js';
import { MALFORMED, SPEC, batchMessage, createStream } from '../streams/fixtures/jetstream.js';

const skip = natsSkipReason();

/** A bounded queue that hands out daemon sequence numbers, like BatchQueue. */
class FakeEngine {
  readonly batchSpec = SPEC;
  readonly queue: { seq: number; batch: Batch }[] = [];
  private next: number;
  private waiters: (() => void)[] = [];
  constructor(
    private readonly limit: number,
    first = 1,
  ) {
    this.next = first;
  }
  submit(batch: Batch): number | null {
    if (this.queue.length >= this.limit) return null;
    const seq = this.next++;
    this.queue.push({ seq, batch });
    return seq;
  }
  whenRoom(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
  /** Applies the head of the queue. */
  step(): number | undefined {
    const h = this.queue.shift();
    this.waiters.shift()?.();
    return h?.seq;
  }
}

const until = async (f: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  return f();
};

t.test(
  'ingest.nats: queue in stream order, dead letters, ack after checkpoint, resume, status, metrics',
  { skip },
  async (t) => {
    const token = `tok-${Math.random().toString(36).slice(2)}`;
    const srv = await startNatsServer(t, { token });
    const dir = await mkdtemp(join(tmpdir(), 'hessflow-nats-ingest-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, token);
    const nc = await connect({ servers: srv.url, token });
    t.teardown(() => nc.close());
    const jsm = await jetstreamManager(nc);
    await createStream(jsm, 'IN', ['in']);
    const js = jetstream(nc);
    // 6 valid, 2 malformed (seq 3 and 6), then 2 valid: stream sequences 1..10.
    const bodies = [
      batchMessage(0),
      batchMessage(1),
      MALFORMED[0].body,
      batchMessage(2),
      batchMessage(3),
      MALFORMED[5].body,
      batchMessage(4),
      batchMessage(5),
      batchMessage(6),
      batchMessage(7),
    ];
    for (const b of bodies) await js.publish('in', b);

    let log = '';
    const logger = pino(
      { level: 'debug' },
      new Writable({ write: (c, _e, cb) => ((log += c.toString()), cb()) }),
    );
    const config = natsIngestSchema.parse({ servers: srv.url, stream: 'IN', tokenFile, ackWaitMs: 1000 });
    t.equal(config.consumer, 'hessflow-daemon', 'default consumer');
    const engine = new FakeEngine(3);
    const ingest = new NatsIngest({ config, engine, logger, dir, maxMessageBytes: 8192 });
    const fatal: Error[] = [];
    await ingest.start((e) => fatal.push(e));
    t.ok(await until(() => engine.queue.length === 3), 'the queue fills to its limit');
    await new Promise((r) => setTimeout(r, 300));
    t.equal(engine.queue.length, 3, 'and no further: the ingest waits for room');
    // Apply everything, step by step.
    const applied: number[] = [];
    while (applied.length < 8) {
      await until(() => engine.queue.length > 0);
      const seq = engine.step()!;
      applied.push(seq);
      ingest.applied(seq);
    }
    t.same(applied, [1, 2, 3, 4, 5, 6, 7, 8], 'eight valid batches, daemon sequences 1..8, in order');
    const s = ingest.status()!;
    t.equal(s.deadLetters, 2, 'two dead letters');
    t.same(s.deadLettersByReason, { [MALFORMED[0].reason]: 1, [MALFORMED[5].reason]: 1 });
    t.equal(s.lastAppliedSeq, 10, 'last applied stream sequence');
    let info = await jsm.consumers.info('IN', 'hessflow-daemon');
    t.equal(info.ack_floor.stream_seq, 0, 'nothing acknowledged before a checkpoint');
    // A checkpoint after daemon seq 5 (stream seq 7) is durable.
    const pos = ingest.position(6);
    t.same(
      pos,
      { stream: 'IN', consumer: 'hessflow-daemon', lastSeq: 7, nextDaemonSeq: 6 },
      'the position a checkpoint holding daemon seqs 1..5 covers',
    );
    ingest.checkpointed(pos);
    await new Promise((r) => setTimeout(r, 300));
    info = await jsm.consumers.info('IN', 'hessflow-daemon');
    // 1..7 are acknowledged (3 and 6 terminated as dead letters); 8..10 wait for the next checkpoint.
    t.equal(
      info.num_ack_pending,
      3,
      `only the three after the checkpoint stay pending (${JSON.stringify(info.ack_floor)})`,
    );
    t.equal(info.num_redelivered, 0);
    const reg = new Registry();
    ingest.registerMetrics(reg);
    const text = await reg.metrics();
    t.match(text, /hessflow_nats_dead_letters_total 2/);
    t.match(text, /hessflow_nats_last_applied_sequence 10/);
    t.match(text, /hessflow_nats_connected 1/);
    t.match(text, /hessflow_nats_consumer_lag \d+/);
    t.match(text, /hessflow_nats_redeliveries_total 0/);
    await ingest.close();

    // A restart from that checkpoint: messages after stream seq 7 come again, nothing before.
    const engine2 = new FakeEngine(10, 6);
    const again = new NatsIngest({
      config,
      engine: engine2,
      logger,
      dir,
      maxMessageBytes: 8192,
      resumeFrom: pos,
    });
    await again.start((e) => fatal.push(e));
    t.ok(
      await until(() => engine2.queue.length === 3),
      'the three batches after the position are resubmitted',
    );
    await new Promise((r) => setTimeout(r, 300));
    t.equal(engine2.queue.length, 3, 'and only those');
    t.equal(again.status()!.lastAppliedSeq, 7);
    await again.close();
    t.same(fatal, []);
    t.notOk(log.includes(token), 'the token never appears in the log');
    t.match(log, /dead-lettered/);
  },
);

t.test('ingest.nats config: unknown keys and bad names refused', async (t) => {
  t.throws(() => natsIngestSchema.parse({ servers: 'x', stream: 'a.b' }));
  t.throws(() => natsIngestSchema.parse({ servers: 'x', stream: 'S', token: 'inline' }), 'no inline token');
  t.ok(natsIngestSchema.parse({ servers: ['a', 'b'], stream: 'S', tokenEnv: 'NATS_TOKEN' }));
});
