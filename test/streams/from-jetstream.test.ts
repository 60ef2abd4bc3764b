/**
 * fromJetStream against a real nats-server (JetStream on, temporary store, free loopback port): stream
 * order, dead letters with reasons for the daemon's malformed corpus (θ as if they were never sent),
 * ack only after `durable` with AckWait kept from expiring, skip-and-ack at or below the checkpoint,
 * duplicate publishes stored once, an unreachable or lost broker reported, a token never logged.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { lastValueFrom, toArray } from 'rxjs';
import t from 'tap';
import type { Batch } from '../../src/data/batch.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { sophiaG } from '../../src/optim/index.js';
import { fromAsyncIterable } from '../../src/streams/from-async-iterable.js';
import { fromJetStream } from '../../src/streams/from-jetstream.js';
import { freePort, natsSkipReason, startNatsServer } from '../helpers/nats-server.js';
import {
  MALFORMED,
  MAX_MESSAGE_BYTES,
  MODEL,
  SPEC,
  batchMessage,
  createStream,
  validBatch,
} from './fixtures/jetstream.js';

const skip = natsSkipReason();

function typed(k: number, b = 4): Batch {
  const v = validBatch(b, k);
  return { ...v, inputs: Float32Array.from(v.inputs), targets: Int32Array.from(v.targets) };
}

/** Takes `n` batches from a pull source with unlimited demand. */
async function take(source: ReturnType<typeof fromJetStream>, n: number): Promise<Batch[]> {
  const { BehaviorSubject, take: takeN } = await import('rxjs');
  return lastValueFrom(source.pull(new BehaviorSubject(1 << 20)).pipe(takeN(n), toArray()));
}

async function trainOn(source: Parameters<ReturnType<typeof createPipeline>['run']>[0]) {
  const pipeline = createPipeline({
    model: MODEL,
    optimizer: sophiaG({ lr: 0.01, rho: 0.04 }),
    curvature: { estimator: 'gnb', every: 3 },
    batchSpec: SPEC,
    workers: 1,
    shards: 2,
    seed: 1,
  });
  try {
    const steps = await lastValueFrom(pipeline.run(source).pipe(toArray()));
    return { params: pipeline.params(), steps: steps.length };
  } finally {
    await pipeline.close();
  }
}

t.test(
  'stream order, dead letters with reasons, θ as if the malformed were never sent',
  { skip },
  async (t) => {
    const srv = await startNatsServer(t);
    const nc = await connect({ servers: srv.url });
    t.teardown(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await createStream(jsm, 'TRAIN', ['train.>']);
    await createStream(jsm, 'DLQ', ['dlq.>']);
    // Valid batches with the whole corpus interleaved: valid k, malformed k, valid k+1, …
    const valid = MALFORMED.length + 4;
    let m = 0;
    for (let k = 0; k < valid; k++) {
      await js.publish('train.mlp', batchMessage(k));
      if (m < MALFORMED.length) await js.publish('train.mlp', MALFORMED[m++].body);
    }
    const letters: { seq: number; reason: string }[] = [];
    const source = fromJetStream({
      servers: srv.url,
      stream: 'TRAIN',
      consumer: 'trainer',
      batchSpec: SPEC,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      deadLetterSubject: 'dlq.train',
      limit: valid,
      prefetch: 8,
      onDeadLetter: (d) => letters.push(d),
    });
    t.teardown(() => source.close());
    const fromStream = await trainOn(source);
    const reference = await trainOn(fromAsyncIterable(Array.from({ length: valid }, (_, k) => typed(k))));
    t.equal(fromStream.steps, valid, 'every valid batch trained, the consumer went on past each bad one');
    t.ok(
      Buffer.from(fromStream.params.buffer).equals(Buffer.from(reference.params.buffer)),
      'θ equals training on the valid batches alone, bit for bit',
    );
    t.same(
      letters.map((l) => l.reason),
      MALFORMED.map((c) => c.reason),
      'each malformed message refused with the daemon validator’s reason, in order',
    );
    const s = source.status();
    t.equal(s.deadLetters, MALFORMED.length, 'dead letters counted');
    t.equal(s.lastEmittedSeq, valid + MALFORMED.length, 'the last message trained is the stream’s last');
    // The dead-letter stream holds each one with its reason; they were terminated, not left pending.
    const dlq = await jsm.streams.info('DLQ');
    t.equal(dlq.state.messages, MALFORMED.length, 'every refused message is in the dead-letter stream');
    const first = await jsm.streams.getMessage('DLQ', { seq: 1 });
    t.equal(first?.header.get('Hessflow-Reason'), MALFORMED[0].reason, 'with its reason');
    t.ok(Buffer.from(first?.data ?? []).equals(Buffer.from(MALFORMED[0].body)), 'and its original bytes');
    source.durable(s.lastEmittedSeq);
    await source.close();
    const info = await jsm.consumers.info('TRAIN', 'trainer');
    t.equal(info.num_redelivered, 0, 'no message was redelivered');
    t.equal(info.num_ack_pending, 0, 'dead letters are terminated (not left to come back after AckWait)');
  },
);

t.test(
  'acked only once durable; held messages never hit AckWait; skip-and-ack at or below the checkpoint',
  { skip },
  async (t) => {
    const srv = await startNatsServer(t);
    const nc = await connect({ servers: srv.url });
    t.teardown(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await createStream(jsm, 'S', ['s']);
    for (let k = 0; k < 10; k++) await js.publish('s', batchMessage(k));

    const source = fromJetStream({
      servers: srv.url,
      stream: 'S',
      consumer: 'c',
      batchSpec: SPEC,
      ackWaitMs: 600,
      prefetch: 4,
    });
    t.teardown(() => source.close());
    const got = await take(source, 6);
    t.equal(got.length, 6);
    t.same(
      [0, 1, 2, 3, 4, 5].map((k) => source.sequenceAt(k)),
      [1, 2, 3, 4, 5, 6],
      'stream order',
    );
    // Three AckWaits pass with nothing durable: kept in progress, so nothing is redelivered.
    await new Promise((r) => setTimeout(r, 2000));
    let info = await jsm.consumers.info('S', 'c');
    t.equal(info.num_redelivered, 0, 'no redelivery while held (working() heartbeats)');
    t.ok(info.num_ack_pending >= 6, `held messages stay unacknowledged (${info.num_ack_pending})`);
    t.equal(info.ack_floor.stream_seq, 0, 'nothing acknowledged before a durable checkpoint');
    source.durable(4);
    await nc.flush();
    await new Promise((r) => setTimeout(r, 300));
    info = await jsm.consumers.info('S', 'c');
    t.equal(info.ack_floor.stream_seq, 4, 'durable(4) acknowledges exactly up to 4');
    t.equal(source.status().lastDurableSeq, 4);
    await source.close();

    // A trainer restarting from a checkpoint at 6 whose acks never left: without re-positioning, the
    // consumer redelivers 5 and 6 (after AckWait); they are acknowledged without training.
    const again = fromJetStream({
      servers: srv.url,
      stream: 'S',
      consumer: 'c',
      batchSpec: SPEC,
      ackWaitMs: 600,
      startAfter: 6,
      reposition: false,
    });
    t.teardown(() => again.close());
    // The server redelivers held messages in no particular order, so wait for all of them.
    const { BehaviorSubject } = await import('rxjs');
    const rest: Batch[] = [];
    const sub = again.pull(new BehaviorSubject(100)).subscribe((b) => rest.push(b));
    t.teardown(() => sub.unsubscribe());
    const end = Date.now() + 10_000;
    while ((rest.length < 4 || again.status().skippedApplied < 2) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1500));
    t.equal(rest.length, 4, 'nothing else is trained, however long we wait');
    const seqs = [0, 1, 2, 3].map((k) => again.sequenceAt(k)).sort((a, b) => a - b);
    t.same(seqs, [7, 8, 9, 10], 'only the messages after the checkpoint are trained');
    t.equal(again.status().skippedApplied, 2, 'the two redelivered applied messages were acked, not trained');
    t.ok(again.status().redeliveries >= 2, 'and counted as redeliveries');
  },
);

t.test('a repeated publish with the same Nats-Msg-Id is stored once', { skip }, async (t) => {
  const srv = await startNatsServer(t);
  const nc = await connect({ servers: srv.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await createStream(jsm, 'D', ['d']);
  const a = await js.publish('d', batchMessage(0), { msgID: 'mnist:1:0' });
  const b = await js.publish('d', batchMessage(0), { msgID: 'mnist:1:0' });
  const c = await js.publish('d', batchMessage(1), { msgID: 'mnist:1:1' });
  t.notOk(a.duplicate);
  t.ok(b.duplicate, 'the retry is flagged duplicate');
  t.equal(b.seq, a.seq, 'and points at the stored message');
  t.equal(c.seq, a.seq + 1);
  t.equal((await jsm.streams.info('D')).state.messages, 2, 'stored once');
});

t.test('broker unreachable at start: a clear error, promptly', { skip }, async (t) => {
  const port = await freePort();
  const source = fromJetStream({
    servers: `nats://127.0.0.1:${port}`,
    stream: 'S',
    consumer: 'c',
    batchSpec: SPEC,
    connectTimeoutMs: 1000,
  });
  const started = Date.now();
  await t.rejects(take(source, 1), /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
  t.ok(Date.now() - started < 10_000, 'fails instead of stalling');
  await source.close();
});

t.test(
  'broker lost mid-run: status reports it, a bounded reconnect resumes, a long outage errors',
  { skip },
  async (t) => {
    const srv = await startNatsServer(t);
    const nc0 = await connect({ servers: srv.url });
    const jsm = await jetstreamManager(nc0);
    const js = jetstream(nc0);
    await createStream(jsm, 'L', ['l']);
    for (let k = 0; k < 3; k++) await js.publish('l', batchMessage(k));
    await nc0.close();
    const { BehaviorSubject } = await import('rxjs');
    const events: string[] = [];
    const source = fromJetStream({
      servers: srv.url,
      stream: 'L',
      consumer: 'c',
      batchSpec: SPEC,
      maxOutageMs: 8000,
      onEvent: (e) => events.push(e.event),
    });
    t.teardown(() => source.close());
    const got: Batch[] = [];
    let error: Error | null = null;
    const sub = source.pull(new BehaviorSubject(100)).subscribe({
      next: (b) => got.push(b),
      error: (e: Error) => (error = e),
    });
    t.teardown(() => sub.unsubscribe());
    const until = async (f: () => boolean, ms = 20_000) => {
      const end = Date.now() + ms;
      while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      return f();
    };
    t.ok(await until(() => got.length === 3), 'the first batches arrive');
    await srv.kill();
    t.ok(await until(() => !source.status().connected), 'status shows the connection down');
    t.ok(source.status().downSince, 'and since when');
    await srv.restart();
    t.ok(await until(() => source.status().connected && source.status().reconnects >= 1), 'reconnected');
    const nc1 = await connect({ servers: srv.url });
    for (let k = 3; k < 5; k++) await jetstream(nc1).publish('l', batchMessage(k));
    await nc1.close();
    t.ok(await until(() => got.length === 5), 'training input resumes after the reconnect');
    t.equal(error, null);
    t.ok(events.includes('disconnected') && events.includes('reconnected'), 'events were reported');
    // A broker gone for longer than maxOutageMs ends the stream with a clear error.
    const source2 = fromJetStream({
      servers: srv.url,
      stream: 'L',
      consumer: 'c2',
      batchSpec: SPEC,
      maxOutageMs: 1500,
    });
    t.teardown(() => source2.close());
    let error2: Error | null = null;
    const sub2 = source2.pull(new BehaviorSubject(100)).subscribe({ error: (e: Error) => (error2 = e) });
    t.teardown(() => sub2.unsubscribe());
    await until(() => source2.status().connected);
    await srv.kill();
    t.ok(await until(() => error2 !== null, 15_000), 'errors instead of stalling');
    t.match(String(error2), /could not reconnect within 1500 ms|not served for 1500 ms/);
  },
);

t.test(
  'a token from a file or the environment authenticates and never appears in logs or errors',
  { skip },
  async (t) => {
    const token = `s3cr3t-${Math.random().toString(36).slice(2)}`;
    const srv = await startNatsServer(t, { token });
    const dir = await mkdtemp(join(tmpdir(), 'hessflow-token-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'token');
    await writeFile(file, `${token}\n`);
    const nc = await connect({ servers: srv.url, token });
    const jsm = await jetstreamManager(nc);
    await createStream(jsm, 'T', ['t']);
    await jetstream(nc).publish('t', batchMessage(0));
    await nc.close();
    const log: string[] = [];
    const good = fromJetStream({
      servers: srv.url,
      stream: 'T',
      consumer: 'c',
      batchSpec: SPEC,
      tokenFile: file,
      onEvent: (e) => log.push(JSON.stringify(e)),
    });
    t.teardown(() => good.close());
    t.equal((await take(good, 1)).length, 1, 'token file authenticates');
    log.push(JSON.stringify(good.status()));
    process.env.HF_TEST_NATS_TOKEN = token;
    t.teardown(() => delete process.env.HF_TEST_NATS_TOKEN);
    const viaEnv = fromJetStream({
      servers: srv.url,
      stream: 'T',
      consumer: 'c2',
      batchSpec: SPEC,
      tokenEnv: 'HF_TEST_NATS_TOKEN',
    });
    t.teardown(() => viaEnv.close());
    t.equal((await take(viaEnv, 1)).length, 1, 'token from the environment authenticates');
    // A wrong token, a token in the URL: errors that do not repeat it.
    await writeFile(file, 'wrong-token');
    const bad = fromJetStream({
      servers: srv.url,
      stream: 'T',
      consumer: 'c3',
      batchSpec: SPEC,
      tokenFile: file,
      connectTimeoutMs: 2000,
    });
    const e1 = await take(bad, 1).catch((e: Error) => e);
    await bad.close();
    t.ok(e1 instanceof Error, 'a wrong token fails');
    log.push(String(e1));
    const inUrl = `nats://${token}@127.0.0.1:${srv.port}`;
    const e2 = await take(
      fromJetStream({ servers: inUrl, stream: 'T', consumer: 'c4', batchSpec: SPEC }),
      1,
    ).catch((e: Error) => e);
    t.match(String(e2), /carries credentials/, 'credentials in a URL are refused');
    log.push(String(e2));
    t.notOk(log.join('\n').includes(token), 'the token appears in no event, status or error');
  },
);
