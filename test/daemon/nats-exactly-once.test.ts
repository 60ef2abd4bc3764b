/**
 * The daemon's NATS ingest exactly once across kill -9, both engines, against a real nats-server: a
 * daemon process (`ingest.nats`, checkpoints every 3 steps) is killed with SIGKILL at random moments
 * while a producer publishes (some publishes retried with the same id, two malformed messages among the
 * batches); each restart resumes from the stream position stored in its newest checkpoint. At the end the
 * daemon has applied exactly the published valid batches (its step count), its θ equals an uninterrupted
 * daemon's over the same stream bit for bit, and the consumer has acknowledged everything.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import t from 'tap';
import { decodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import { natsSkipReason, startNatsServer } from '../helpers/nats-server.js';
import { MALFORMED, batchMessage, createStream, rng } from '../streams/fixtures/jetstream.js';
import {
  daemonConfig,
  scratchDir,
  spawnDaemon,
  status,
  waitForStatus,
  weights,
  writeConfig,
} from './fixtures/daemon.js';

const skip = natsSkipReason();
t.setTimeout(600_000);

const BATCHES = 72;
/** The producer's message k: batch k, except two malformed ones (dead-lettered, never trained). */
const MALFORMED_AT = new Map([
  [17, MALFORMED[4].body],
  [44, MALFORMED[20].body],
]);

async function newestCheckpointMeta(dir: string): Promise<Record<string, unknown>> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.hfckpt')).sort();
  return decodeCheckpoint(await readFile(join(dir, files[files.length - 1]))).meta;
}

for (const engine of ['trainer', 'pipeline'] as const) {
  t.test(
    `daemon (${engine} engine) killed -9 while a producer publishes: each batch applied once, θ bit for bit`,
    { skip, timeout: 600_000 },
    async (t) => {
      const seed = Number(process.env.HF_KILL_SEED ?? Date.now() % 100_000);
      t.comment(`kill schedule seed ${seed} (HF_KILL_SEED=${seed} replays it)`);
      const random = rng(seed);
      const srv = await startNatsServer(t);
      const nc = await connect({ servers: srv.url });
      t.teardown(() => nc.close());
      const jsm = await jetstreamManager(nc);
      await createStream(jsm, 'DKILL', ['dkill.in']);
      const js = jetstream(nc);

      // Paced so that the kills land while it publishes; every 7th publish retried with the same id.
      let duplicates = 0;
      const producer = (async () => {
        for (let k = 0; k < BATCHES; k++) {
          const body = MALFORMED_AT.get(k) ?? batchMessage(k);
          await js.publish('dkill.in', body, { msgID: `m:${k}` });
          if (k % 7 === 3 && (await js.publish('dkill.in', body, { msgID: `m:${k}` })).duplicate)
            duplicates++;
          await new Promise((r) => setTimeout(r, 120));
        }
      })();
      const valid = BATCHES - MALFORMED_AT.size;

      const dir = await scratchDir(t);
      const nats = { servers: srv.url, stream: 'DKILL', ackWaitMs: 2000 };
      const common = {
        engine,
        checkpointEvery: 3,
        ...(engine === 'pipeline' ? { workers: 1, shards: 2 } : {}),
      };
      const path = await writeConfig(
        dir,
        daemonConfig(dir, { ...common, ingest: { nats: { ...nats, consumer: 'killed' } } }),
      );
      const resumedAfter: number[] = [];
      let kills = 0;
      for (let cycle = 0; cycle < 5; cycle++) {
        const d = await spawnDaemon(t, path);
        const resumed = d.lines.find((l) => typeof l.resumeAfter === 'number');
        const from = (await status(d.url)).step as number;
        const target = from + 1 + Math.floor(random() * 8);
        try {
          await waitForStatus(d.url, (s) => (s.step as number) >= Math.min(target, valid), 120_000);
        } catch {
          // stalled: the status at the kill says so below
        }
        await new Promise((r) => setTimeout(r, Math.floor(random() * 60)));
        const before = await status(d.url);
        d.proc.kill('SIGKILL');
        await d.exited;
        kills++;
        t.ok((before.step as number) >= from, `cycle ${cycle}: trained from step ${from} to ${before.step}`);
        if (cycle > 0) resumedAfter.push((resumed?.resumeAfter as number | undefined) ?? -1);
        if ((before.step as number) >= valid) break;
      }
      await producer;
      t.ok(kills >= 3, `${kills} kills`);
      t.ok(
        resumedAfter.some((s) => s > 0),
        `restarts resumed after the checkpoints' stream positions (${resumedAfter.join(', ')})`,
      );
      t.ok(duplicates > 0, `${duplicates} retried publishes flagged duplicate`);
      t.equal(
        (await jsm.streams.info('DKILL')).state.messages,
        BATCHES,
        'the stream holds each message once',
      );

      // The last run trains the rest; the uninterrupted one (own directory and consumer) everything.
      const last = await spawnDaemon(t, path);
      const refDir = await scratchDir(t);
      const ref = await spawnDaemon(
        t,
        await writeConfig(
          refDir,
          daemonConfig(refDir, { ...common, ingest: { nats: { ...nats, consumer: 'reference' } } }),
        ),
      );
      await waitForStatus(last.url, (s) => s.step === valid, 120_000);
      await waitForStatus(ref.url, (s) => s.step === valid, 120_000);
      // Nothing more comes (a batch trained twice would show up as an extra step).
      await new Promise((r) => setTimeout(r, 1500));
      const s = (await status(last.url)) as { step: number; nats: Record<string, number> };
      t.equal(s.step, valid, `${valid} steps: every valid batch once, none twice`);
      t.equal(s.nats.lastAppliedSeq, BATCHES, 'the last applied stream sequence is the last message');
      t.ok(
        (await weights(last.url)).equals(await weights(ref.url)),
        'θ after the kills equals the uninterrupted daemon’s, bit for bit',
      );

      // A graceful stop checkpoints and acknowledges the rest.
      last.proc.kill('SIGTERM');
      t.equal(await last.exited, 0);
      const meta = await newestCheckpointMeta(join(dir, 'ckpt'));
      t.same(
        meta.nats,
        { stream: 'DKILL', consumer: 'killed', lastSeq: BATCHES, nextDaemonSeq: valid + 1 },
        'the final checkpoint holds the stream position',
      );
      const info = await jsm.consumers.info('DKILL', 'killed');
      t.equal(info.num_ack_pending, 0, 'nothing left unacknowledged');
      t.equal(info.num_pending, 0, 'nothing left to deliver');
      // A restart from a checkpoint recreates the consumer after the checkpoint's sequence; when that
      // checkpoint already held every message, the new consumer starts past the end and acks nothing.
      t.equal(
        Math.max(info.ack_floor.stream_seq, (info.config.opt_start_seq ?? 1) - 1),
        BATCHES,
        'acknowledged (or started after) up to the last message',
      );
      ref.proc.kill('SIGTERM');
      t.equal(await ref.exited, 0);
    },
  );
}
