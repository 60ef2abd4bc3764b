/**
 * The daemon with engine "pipeline" as a real process: a run killed with -9 mid-training and restarted
 * from its newest checkpoint (the producer resends from nextSeq) ends with the same parameters, bit for
 * bit, as an uninterrupted one; killed at random points while batches stream in over the socket, every
 * restart resumes from the newest checkpoint on disk and every checkpoint left decodes; SIGTERM stops it
 * cleanly (worker pools closed, exit 0, lock released).
 */
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { decodeCheckpoint } from '../../src/io/checkpoint-codec.js';
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
  weights,
  writeConfig,
} from './fixtures/daemon.js';

const N = 12;

t.test('engine "pipeline": killed with -9 and resumed equals an uninterrupted run', async (t) => {
  const dirA = await scratchDir(t);
  const dirB = await scratchDir(t);
  // staleness 2: checkpoints at steps 4 and 8 hold an estimate launched at 3 or 6 whose value was in flight
  const overrides = {
    engine: 'pipeline',
    workers: 1,
    shards: 2,
    checkpointEvery: 4,
    curvature: { estimator: 'gnb', every: 3, staleness: 2 },
  };
  const [a, b] = await Promise.all([
    writeConfig(dirA, daemonConfig(dirA, overrides)).then((p) => spawnDaemon(t, p)),
    writeConfig(dirB, daemonConfig(dirB, overrides)).then(async (p) => ({
      path: p,
      d: await spawnDaemon(t, p),
    })),
  ]);

  for (let k = 0; k < N; k++) t.equal((await postJson(`${a.url}/v1/batches`, validBatch(2, k))).status, 200);
  await waitForStatus(a.url, (s) => s.step === N);
  const uninterrupted = await weights(a.url);

  for (let k = 0; k < N; k++) await postJson(`${b.d.url}/v1/batches`, validBatch(2, k));
  await b.d.waitForLine((l) => l.event === 'checkpoint' && (l.step as number) >= 8);
  b.d.proc.kill('SIGKILL');
  await b.d.exited;

  const b2 = await spawnDaemon(t, b.path);
  const resumedAt = b2.lines.find((l) => l.event === 'resumed')?.step as number;
  t.ok(resumedAt >= 8, `resumed from the checkpoint at step ${resumedAt}`);
  const s = await status(b2.url);
  const next = s.nextSeq as number;
  t.ok(next >= 9, `resumed with nextSeq ${next}`);
  for (let k = next - 1; k < N; k++) {
    const r = (await (await postJson(`${b2.url}/v1/batches`, validBatch(2, k))).json()) as { seq: number };
    t.equal(r.seq, k + 1, 'sequence numbers continue from the checkpoint');
  }
  await waitForStatus(b2.url, (x) => x.step === N);
  const resumed = await weights(b2.url);
  t.ok(resumed.equals(uninterrupted), 'parameters equal the uninterrupted run, bit for bit');

  a.proc.kill('SIGTERM');
  b2.proc.kill('SIGTERM');
  t.equal(await a.exited, 0, 'graceful stop exits 0');
  t.equal(await b2.exited, 0);
  t.ok(
    a.lines.some((l) => l.event === 'stopped' && l.step === N),
    'the final checkpoint is at the last applied step',
  );
});

async function checkpointSteps(dir: string): Promise<number[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.hfckpt')).sort();
  const out: number[] = [];
  for (const f of files) out.push(decodeCheckpoint(await readFile(join(dir, f))).step);
  return out;
}

t.test(
  'engine "pipeline": kill -9 while streaming, each restart resumes from the newest checkpoint',
  async (t) => {
    const dir = await scratchDir(t);
    const ckdir = join(dir, 'ckpt');
    const config = await writeConfig(
      dir,
      daemonConfig(dir, { engine: 'pipeline', workers: 1, shards: 2, queueLimit: 64, checkpointEvery: 4 }),
    );
    let expectResumeAt: number | null = null;
    for (let cycle = 0; cycle < 2; cycle++) {
      const d = await spawnDaemon(t, config);
      t.equal(
        d.lines.find((l) => l.event === 'resumed')?.step ?? null,
        expectResumeAt,
        `cycle ${cycle}: resumed`,
      );
      const start = (await status(d.url)).step as number;
      const c = await FrameClient.connect(d.socketPort);
      t.teardown(() => c.close());
      for (let k = 0; k < 16; k++) c.send(packr.pack(validBatch(2, cycle * 100 + k)));
      await d.waitForLine((l) => l.event === 'checkpoint' && (l.step as number) >= start + 4);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 150)));
      d.proc.kill('SIGKILL');
      await d.exited;
      c.close();
      const steps = await checkpointSteps(ckdir);
      t.ok(steps.length >= 1, `cycle ${cycle}: checkpoints left decode (${steps.join(', ')})`);
      expectResumeAt = steps[steps.length - 1];
      t.ok(expectResumeAt >= start + 4, `cycle ${cycle}: newest checkpoint at step ${expectResumeAt}`);
    }
    const d = await spawnDaemon(t, config);
    t.equal(d.lines.find((l) => l.event === 'resumed')?.step, expectResumeAt, 'resumed from the newest');
    d.proc.kill('SIGTERM');
    t.equal(await d.exited, 0, 'graceful stop exits 0');
    t.notOk(existsSync(join(ckdir, 'daemon.lock')), 'lock released');
  },
);
