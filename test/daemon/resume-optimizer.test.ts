/**
 * #21 item 2: resuming a checkpoint with another optimizer is refused at start by both engines, and a
 * trainer-engine step that fails for a reason other than its batch keeps the batch (never dropped).
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { buildModel } from '../../src/nn/models/registry.js';
import { TrainerEngine } from '../../src/daemon/trainer-engine.js';
import {
  FrameClient,
  daemonConfig,
  packr,
  scratchDir,
  spawnDaemon,
  typedBatch,
  validBatch,
  waitForStatus,
  writeConfig,
} from './fixtures/daemon.js';

for (const engine of ['trainer', 'pipeline'] as const) {
  t.test(`${engine} engine: a checkpoint of sophiaG is not resumed with adamw`, async (t) => {
    const dir = await scratchDir(t);
    const extra = engine === 'pipeline' ? { engine, workers: 1, shards: 1 } : { engine };
    const config = await writeConfig(dir, daemonConfig(dir, extra));
    const d = await spawnDaemon(t, config);
    const c = await FrameClient.connect(d.socketPort);
    for (let k = 0; k < 6; k++) c.send(packr.pack(validBatch(2, k)));
    await c.waitFor(() => c.acks.length === 6);
    await waitForStatus(d.url, (s) => s.step === 6);
    c.close();
    d.proc.kill('SIGTERM');
    t.equal(await d.exited, 0);
    const ckdir = join(dir, 'ckpt');
    const before = await readdir(ckdir);
    const newest = before
      .filter((f) => f.endsWith('.hfckpt'))
      .sort()
      .pop()!;
    const bytes = await readFile(join(ckdir, newest));

    const adam = await writeConfig(
      dir,
      daemonConfig(dir, { ...extra, optimizer: { name: 'adamw', lr: 0.01 }, curvature: undefined }),
      'adamw.json',
    );
    const d2 = spawnDaemon(t, adam, 60_000);
    await t.rejects(d2, /written with optimizer "sophiaG" but the config says "adamw"/, 'refused, clearly');
    t.same(await readdir(ckdir), before, 'the checkpoints are untouched');
    t.same(await readFile(join(ckdir, newest)), bytes);
  });
}

t.test('trainer engine: a step failing for a reason other than the batch keeps the batch', async (t) => {
  const model = buildModel({ kind: 'mlp', sizes: [8, 6, 3] });
  const sophia = new TrainerEngine({
    model,
    optimizer: { name: 'sophiaG', lr: 0.01, rho: 0.04 },
    seed: 1,
    queueLimit: 16,
  });
  const snap = sophia.snapshot();
  // an adamw engine handed a sophiaG state (what the daemon now refuses at start): every step fails
  const e = new TrainerEngine({
    model,
    optimizer: { name: 'adamw', lr: 0.01 },
    seed: 1,
    queueLimit: 16,
    resume: snap,
  });
  const errors: [number, boolean][] = [];
  e.onError((_err, seq, dropped) => errors.push([seq, dropped]));
  for (let k = 0; k < 5; k++) t.equal(e.submit(typedBatch(2, k)), k + 1);
  e.start();
  await new Promise((r) => setTimeout(r, 200));
  t.same(errors, [[1, false]], 'one failure, batch 1 not dropped');
  const s = e.status();
  t.equal(s.step, 0, 'nothing applied');
  t.equal(s.queueDepth, 5, 'every acknowledged batch still queued');
  t.match(s.halted, { seq: 1, error: /state\.mu must be a Float32Array/ });
  t.same(
    e.snapshot().queue.map((q) => q.seq),
    [1, 2, 3, 4, 5],
    'a checkpoint now holds all of them',
  );
  // resume() retries: it fails again, still dropping nothing
  e.resume();
  await new Promise((r) => setTimeout(r, 100));
  t.same(errors, [
    [1, false],
    [1, false],
  ]);
  t.equal(e.status().queueDepth, 5);
  await e.stop();
});
