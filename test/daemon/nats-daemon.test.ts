/**
 * A real daemon process with `ingest.nats` against a real nats-server: it trains the stream's batches
 * (malformed ones dead-lettered), /v1/status and /metrics show lag, redeliveries, dead letters and the
 * last applied sequence, a restart resumes after the acknowledged position without training anything
 * twice, and the token (read from a file) appears nowhere in its logs. The last applied sequence counts
 * batches that were still queued when a checkpoint covered them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import t from 'tap';
import { natsSkipReason, startNatsServer } from '../helpers/nats-server.js';
import { MALFORMED, batchMessage, createStream } from '../streams/fixtures/jetstream.js';
import { daemonConfig, scratchDir, spawnDaemon, status, writeConfig } from './fixtures/daemon.js';

const skip = natsSkipReason();

const until = async (f: () => Promise<boolean>, ms = 30_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return f();
};

t.test(
  'daemon ingest.nats: trains the stream, reports it, resumes after a restart',
  { skip, timeout: 300_000 },
  async (t) => {
    const token = `tok-${Math.random().toString(36).slice(2)}`;
    const srv = await startNatsServer(t, { token });
    const dir = await scratchDir(t);
    const tokenFile = join(dir, 'nats-token');
    await writeFile(tokenFile, token);
    const nc = await connect({ servers: srv.url, token });
    t.teardown(() => nc.close());
    await createStream(await jetstreamManager(nc), 'DAEMON', ['daemon.in']);
    const js = jetstream(nc);
    for (let k = 0; k < 6; k++) await js.publish('daemon.in', batchMessage(k));
    await js.publish('daemon.in', MALFORMED[3].body);
    for (let k = 6; k < 9; k++) await js.publish('daemon.in', batchMessage(k));

    const config = daemonConfig(dir, {
      checkpointEvery: 4,
      ingest: { nats: { servers: srv.url, stream: 'DAEMON', tokenFile, ackWaitMs: 2000 } },
    });
    const path = await writeConfig(dir, config);
    const d = await spawnDaemon(t, path);
    t.ok(await until(async () => (await status(d.url)).step === 9), 'nine valid batches trained');
    const s = (await status(d.url)) as { nats: Record<string, unknown> };
    t.equal(s.nats.deadLetters, 1, 'one dead letter');
    t.equal(s.nats.lastAppliedSeq, 10, 'last applied stream sequence');
    t.equal(s.nats.connected, true);
    t.ok('lag' in s.nats && 'redeliveries' in s.nats, 'lag and redeliveries reported');
    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    t.match(metrics, /hessflow_nats_last_applied_sequence 10/);
    t.match(metrics, /hessflow_nats_dead_letters_total 1/);
    t.match(metrics, /hessflow_nats_consumer_lag \d+/);
    t.match(metrics, /hessflow_nats_redeliveries_total 0/);
    // Graceful stop writes the final checkpoint and acknowledges; a restart trains only what is new.
    d.proc.kill('SIGTERM');
    await d.exited;
    for (let k = 9; k < 12; k++) await js.publish('daemon.in', batchMessage(k));
    const d2 = await spawnDaemon(t, path);
    t.ok(
      await until(async () => (await status(d2.url)).step === 12),
      'after the restart: the three new ones, once',
    );
    await new Promise((r) => setTimeout(r, 1000));
    const s2 = (await status(d2.url)) as { step: number; nats: Record<string, unknown> };
    t.equal(s2.step, 12, 'nothing trained twice');
    t.equal(s2.nats.lastAppliedSeq, 13);
    const logs = d.stderr() + JSON.stringify(d.lines) + d2.stderr() + JSON.stringify(d2.lines);
    t.notOk(logs.includes(token), 'the token appears nowhere in the logs');
    t.match(JSON.stringify(d.lines), /dead-lettered/);
  },
);

t.test(
  'daemon ingest.nats: batches queued at a checkpoint count as applied when they are',
  { skip, timeout: 300_000 },
  async (t) => {
    const srv = await startNatsServer(t);
    const nc = await connect({ servers: srv.url });
    t.teardown(() => nc.close());
    await createStream(await jetstreamManager(nc), 'QUEUED', ['queued.in']);
    const js = jetstream(nc);
    const dir = await scratchDir(t);
    const config = daemonConfig(dir, {
      checkpointEvery: 1000,
      ingest: { nats: { servers: srv.url, stream: 'QUEUED', ackWaitMs: 2000 } },
    });
    const d = await spawnDaemon(t, await writeConfig(dir, config));
    t.equal((await fetch(`${d.url}/v1/pause`, { method: 'POST' })).status, 200);
    for (let k = 0; k < 3; k++) await js.publish('queued.in', batchMessage(k));
    t.ok(
      await until(async () => ((await status(d.url)) as { queueDepth: number }).queueDepth === 3),
      'three batches queued while paused',
    );
    // The checkpoint holds the three queued batches, so it covers stream sequences 1-3 (and acks them).
    t.equal((await fetch(`${d.url}/v1/checkpoint`, { method: 'POST' })).status, 200);
    t.equal((await fetch(`${d.url}/v1/resume`, { method: 'POST' })).status, 200);
    t.ok(await until(async () => (await status(d.url)).step === 3), 'trained after the resume');
    const s = (await status(d.url)) as { nats: Record<string, unknown> };
    t.equal(s.nats.lastAppliedSeq, 3, 'the last applied stream sequence follows the applied steps');
    d.proc.kill('SIGTERM');
    t.equal(await d.exited, 0);
  },
);
