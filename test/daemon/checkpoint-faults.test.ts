import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { decodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import {
  FrameClient,
  daemonConfig,
  packr,
  scratchDir,
  spawnDaemon,
  status,
  validBatch,
  waitForStatus,
  writeConfig,
} from './fixtures/daemon.js';

async function ckptFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => /^ckpt-\d+\.hfckpt$/.test(f)).sort();
}

/** Runs a daemon over `config`, feeds `n` batches, waits until all are applied, stops it gracefully. */
async function trainAndStop(
  t: Test,
  config: string,
  n: number,
  k0: number,
): Promise<Record<string, unknown>> {
  const d = await spawnDaemon(t, config);
  const start = (await status(d.url)).step as number;
  const c = await FrameClient.connect(d.socketPort);
  for (let k = 0; k < n; k++) c.send(packr.pack(validBatch(2, k0 + k)));
  await c.waitFor(() => c.acks.length === n);
  await waitForStatus(d.url, (s) => s.step === start + n);
  c.close();
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0, 'graceful stop');
  return d.lines.find((l) => l.event === 'stopped')!;
}

t.test('an unreadable newest checkpoint refuses the start and nothing is pruned', async (t) => {
  const dir = await scratchDir(t);
  const ckdir = join(dir, 'ckpt');
  const config = await writeConfig(dir, daemonConfig(dir, { checkpointEvery: 5, keepLast: 2 }));
  await trainAndStop(t, config, 12, 0);
  const files = await ckptFiles(ckdir);
  const newest = files[files.length - 1];
  const newestStep = decodeCheckpoint(await readFile(join(ckdir, newest))).step;
  t.equal(newestStep, 12);
  // Everything runs as root here, so permission bits cannot make a file unreadable: the newest checkpoint
  // is turned into a directory holding the original file, so reading it fails with EISDIR (not corruption).
  await rename(join(ckdir, newest), join(dir, 'held'));
  await mkdir(join(ckdir, newest));
  await rename(join(dir, 'held'), join(ckdir, newest, 'original'));
  const before = await ckptFiles(ckdir);

  const d = spawnDaemon(t, config, 30_000);
  await t.rejects(d, /cannot read checkpoint .*EISDIR/, 'refuses to start, naming the file and the error');
  t.same(await ckptFiles(ckdir), before, 'no checkpoint removed');
  t.ok(existsSync(join(ckdir, newest, 'original')), 'the unreadable one untouched');
  t.notOk(existsSync(join(ckdir, 'daemon.lock')), 'lock released');

  // readable again: the daemon resumes from it (step 12), not from an older one or fresh
  await rename(join(ckdir, newest, 'original'), join(dir, 'back'));
  await (await import('node:fs/promises')).rmdir(join(ckdir, newest));
  await rename(join(dir, 'back'), join(ckdir, newest));
  const d2 = await spawnDaemon(t, config);
  t.equal(d2.lines.find((l) => l.event === 'resumed')?.step, 12, 'resumes from the newest');
  d2.proc.kill('SIGTERM');
  t.equal(await d2.exited, 0);
});

t.test('an unreadable older checkpoint is never pruned; a corrupt one is moved aside', async (t) => {
  const dir = await scratchDir(t);
  const ckdir = join(dir, 'ckpt');
  const config = await writeConfig(dir, daemonConfig(dir, { checkpointEvery: 5, keepLast: 3 }));
  await trainAndStop(t, config, 10, 0);
  t.equal((await ckptFiles(ckdir)).length, 3);
  let files = await ckptFiles(ckdir);
  // oldest → unreadable (EISDIR, see above); corrupt the newest: the start skips it and moves it aside
  const oldest = files[0];
  await rename(join(ckdir, oldest), join(dir, 'held'));
  await mkdir(join(ckdir, oldest));
  await rename(join(dir, 'held'), join(ckdir, oldest, 'original'));
  const victim = files[files.length - 1];
  const bytes = await readFile(join(ckdir, victim));
  bytes[bytes.length - 3] ^= 0xff;
  await writeFile(join(ckdir, victim), bytes);

  const d = await spawnDaemon(t, config);
  const skipped = d.lines.find((l) => String(l.msg).startsWith('skipping corrupt checkpoint'));
  t.ok(skipped, 'corrupt checkpoint reported');
  t.equal(d.lines.find((l) => l.event === 'resumed')?.step, 10, 'resumed from the one before it');
  const moved = (await readdir(join(ckdir, 'corrupt'))).filter((f) => f.startsWith(victim));
  t.equal(moved.length, 1, 'the corrupt file is kept in corrupt/');
  t.same(await readFile(join(ckdir, 'corrupt', moved[0])), bytes, 'byte for byte');
  // many checkpoints later (keepLast 2), the unreadable one is still there
  const c = await FrameClient.connect(d.socketPort);
  for (let k = 0; k < 20; k++) c.send(packr.pack(validBatch(2, 100 + k)));
  await c.waitFor(() => c.acks.length === 20);
  for (let i = 0; i < 4; i++)
    await fetch(`${d.url}/v1/checkpoint`, { method: 'POST' }).then((r) => r.arrayBuffer());
  c.close();
  d.proc.kill('SIGTERM');
  t.equal(await d.exited, 0);
  files = await ckptFiles(ckdir);
  t.ok(files.includes(oldest), 'the unreadable checkpoint was not pruned');
  t.ok(existsSync(join(ckdir, oldest, 'original')), 'and not touched');
  t.ok(
    d.lines.some((l) => String(l.msg).startsWith('not pruning a checkpoint that cannot be read')),
    'pruning says it kept it',
  );
  t.equal(files.length, 4, 'keepLast valid ones plus the unreadable one');
});

t.test('a stray 12-digit index does not hide later checkpoints (kill -9, restart)', async (t) => {
  const dir = await scratchDir(t);
  const ckdir = join(dir, 'ckpt');
  const config = await writeConfig(dir, daemonConfig(dir, { checkpointEvery: 5, keepLast: 3 }));
  await trainAndStop(t, config, 20, 0);
  const files = await ckptFiles(ckdir);
  // a stray copy of the step-20 checkpoint under the largest 12-digit index
  await copyFile(join(ckdir, files[files.length - 1]), join(ckdir, 'ckpt-999999999999.hfckpt'));
  const d = await spawnDaemon(t, config);
  t.equal(d.lines.find((l) => l.event === 'resumed')?.step, 20);
  const c = await FrameClient.connect(d.socketPort);
  for (let k = 0; k < 50; k++) c.send(packr.pack(validBatch(2, 200 + k)));
  await c.waitFor(() => c.acks.length === 50);
  await waitForStatus(d.url, (s) => s.step === 70);
  await d.waitForLine((l) => l.event === 'checkpoint' && l.step === 70);
  c.close();
  d.proc.kill('SIGKILL');
  await d.exited;
  const d2 = await spawnDaemon(t, config);
  const resumed = d2.lines.find((l) => l.event === 'resumed')?.step as number;
  t.ok(resumed >= 70, `resumed at step ${resumed} (>= 70)`);
  d2.proc.kill('SIGTERM');
  t.equal(await d2.exited, 0);
});
