/**
 * #21 item 7: checkpoint writes failing (disk full, I/O errors). Failures show in /v1/status and the
 * metrics, ingest answers 503 persistence_failed while nothing can be persisted, it recovers once a write
 * succeeds, and a shutdown that cannot write its final checkpoint says what is lost (exit 1).
 *
 * A full disk cannot be made here without mounting a filesystem, so the write is made to fail at its
 * rename: the checkpoint names the daemon writes next exist as directories (rename(2) onto a directory
 * fails with EISDIR). The bytes are never persisted, which is the effect of ENOSPC on the daemon.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { checkpointName } from '../../src/daemon/checkpoint-store.js';
import {
  FrameClient,
  daemonConfig,
  packr,
  postJson,
  scratchDir,
  spawnDaemon,
  status,
  validBatch,
  waitForStatus,
  writeConfig,
} from './fixtures/daemon.js';

t.test('checkpoint failures: 503, status, metric, recovery, and what a failed stop lost', async (t) => {
  const dir = await scratchDir(t);
  const ckdir = join(dir, 'ckpt');
  const config = await writeConfig(dir, daemonConfig(dir, { checkpointEvery: 0, queueLimit: 32 }));
  const d = await spawnDaemon(t, config);
  const c = await FrameClient.connect(d.socketPort);
  t.teardown(() => c.close());
  for (let k = 0; k < 4; k++) c.send(packr.pack(validBatch(2, k)));
  await c.waitFor(() => c.acks.length === 4);
  await waitForStatus(d.url, (s) => s.step === 4);

  const blockers = Array.from({ length: 200 }, (_, i) => join(ckdir, checkpointName(i)));
  for (const b of blockers) await mkdir(b);
  const r = await fetch(`${d.url}/v1/checkpoint`, { method: 'POST' });
  t.equal(r.status, 503, 'an on-demand checkpoint answers 503');
  t.match(await r.json(), { reason: 'persistence_failed', error: /EISDIR|directory/ });
  const s = await status(d.url);
  t.match(s.persistence, { ok: false, lastError: /EISDIR|directory/ }, 'status says so');
  t.ok((s.persistence as { failures: number }).failures >= 1);
  const m = await (await fetch(`${d.url}/metrics`)).text();
  t.match(m, /hessflow_checkpoint_failures_total [1-9]/, 'counted');
  t.match(m, /hessflow_persistence_failing 1/);
  const h = await postJson(`${d.url}/v1/batches`, validBatch(2, 9));
  t.equal(h.status, 503, 'HTTP ingest refused');
  t.match(await h.json(), { reason: 'persistence_failed' });
  c.send(packr.pack(validBatch(2, 10)));
  await c.waitFor(() => c.acks.length === 5);
  t.match(c.acks[4], { reason: 'persistence_failed' }, 'socket ingest refused, with the reason');
  t.equal((await status(d.url)).nextSeq, 5, 'nothing acknowledged meanwhile');

  // the disk has room again: a retry succeeds, ingest reopens
  for (const b of blockers) await rm(b, { recursive: true });
  await waitForStatus(d.url, (x) => (x.persistence as { ok: boolean }).ok === true, 10_000);
  const ok = await postJson(`${d.url}/v1/batches`, validBatch(2, 11));
  t.equal(ok.status, 200, 'accepted again once a checkpoint was written');
  t.match(await (await fetch(`${d.url}/metrics`)).text(), /hessflow_persistence_failing 0/);

  // a shutdown that cannot write its final checkpoint: exit 1, and the log says what is lost
  await waitForStatus(d.url, (x) => x.step === 5);
  await fetch(`${d.url}/v1/pause`, { method: 'POST' }).then((x) => x.arrayBuffer());
  for (let k = 0; k < 3; k++) c.send(packr.pack(validBatch(2, 20 + k)));
  await c.waitFor(() => c.acks.length === 8);
  t.same(
    c.acks.slice(5).map((a) => a.seq),
    [6, 7, 8],
  );
  for (const b of blockers) await mkdir(b).catch(() => undefined); // the checkpoint written is one
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 1, 'exit 1');
  const lost = d.lines.find((l) => l.event === 'lost');
  t.match(lost, { queuedBatches: 3, firstSeq: 6, lastSeq: 8, step: 5 }, 'the log names what is lost');
  t.match(String(lost?.msg), /3 acknowledged batches \(seq 6\.\.8\)/);
});
