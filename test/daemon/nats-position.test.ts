/**
 * The NATS stream position in daemon checkpoints (`meta.nats`): saved and loaded with the rest of the
 * state, a malformed one makes the file no resumable checkpoint (moved aside, the previous one used), and
 * the ingest takes the resumed position only for its own stream and consumer (the legacy position file
 * only when the checkpoint holds none).
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { CheckpointStore, checkpointName } from '../../src/daemon/checkpoint-store.js';
import type { EngineSnapshot } from '../../src/daemon/engine.js';
import { LEGACY_POSITION_FILE, NatsIngest, natsIngestSchema } from '../../src/daemon/nats-ingest.js';
import { encodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import { SPEC } from '../streams/fixtures/jetstream.js';

const scratch = async (t: { teardown(f: () => unknown): void }) => {
  const dir = await mkdtemp(join(tmpdir(), 'hessflow-nats-position-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
};

function snapshot(step: number, extra: Partial<EngineSnapshot> = {}): EngineSnapshot {
  return {
    params: Float32Array.from([1, 2, 3]),
    layout: [{ name: 'w', shape: [3], offset: 0, tags: [] }],
    optState: { m: Float32Array.from([0, 0, 0]) },
    step,
    pending: [],
    skipped: 0,
    queue: [],
    nextSeq: step + 1,
    paused: false,
    ...extra,
  };
}

const POS = { stream: 'S', consumer: 'c', lastSeq: 12, nextDaemonSeq: 10 };

t.test('meta.nats is saved and loaded with the checkpoint', async (t) => {
  const dir = await scratch(t);
  const store = new CheckpointStore(dir, 3, false);
  await store.save(snapshot(4));
  t.equal((await store.loadNewestValid()).found!.snapshot.nats, undefined, 'none without ingest.nats');
  await store.save(snapshot(9, { nats: POS }));
  const { found } = await new CheckpointStore(dir, 3, false).loadNewestValid();
  t.equal(found!.snapshot.step, 9);
  t.same(found!.snapshot.nats, POS);
});

t.test('a malformed meta.nats is no resumable checkpoint: moved aside, the one before used', async (t) => {
  const dir = await scratch(t);
  const store = new CheckpointStore(dir, 3, false);
  await store.save(snapshot(3, { nats: POS }));
  const good = snapshot(6);
  const meta = { daemon: 1, pending: [], skipped: 0, nextSeq: 7, queue: [], nats: { ...POS, lastSeq: -1 } };
  writeFileSync(
    join(dir, checkpointName(1)),
    encodeCheckpoint({
      params: good.params,
      layout: good.layout,
      optimizerState: good.optState,
      step: 6,
      meta,
    }),
  );
  const { found, skipped } = await new CheckpointStore(dir, 3, false).loadNewestValid();
  t.equal(found!.snapshot.step, 3, 'resumed from the previous checkpoint');
  t.same(found!.snapshot.nats, POS);
  t.equal(skipped.length, 1);
  t.match(skipped[0].error, /meta\.nats is not a NATS position/);
  t.ok(skipped[0].movedTo, 'moved aside');
});

t.test('the ingest resumes only its own stream and consumer; the legacy file as a fallback', async (t) => {
  const dir = await scratch(t);
  const engine = { batchSpec: SPEC, submit: () => null, whenRoom: () => Promise.resolve() };
  let log = '';
  const logger = pino({}, { write: (s: string) => void (log += s) });
  const config = natsIngestSchema.parse({ servers: 'nats://127.0.0.1:1', stream: 'S', consumer: 'c' });
  const make = (resumeFrom?: typeof POS) =>
    new NatsIngest({
      config,
      engine,
      logger,
      dir,
      maxMessageBytes: 4096,
      ...(resumeFrom ? { resumeFrom } : {}),
    });
  t.same(make(POS).position(10), POS, 'its own: resumed');
  t.same(
    make(POS).position(15),
    { ...POS, nextDaemonSeq: 15 },
    'nothing submitted since: the same stream position',
  );
  t.equal(make({ ...POS, consumer: 'other' }).position(10).lastSeq, 0, 'another consumer: from the start');
  t.match(log, /holds a position of another stream or consumer/);
  await writeFile(join(dir, LEGACY_POSITION_FILE), JSON.stringify({ ...POS, lastSeq: 5 }));
  t.equal(make().position(10).lastSeq, 5, 'no position in the checkpoint: the legacy file');
  t.equal(make(POS).position(10).lastSeq, 12, 'the checkpoint’s position wins over the file');
});
