import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { decodeCheckpoint } from '../../src/io/checkpoint-codec.js';
import {
  FrameClient,
  daemonConfig,
  packr,
  scratchDir,
  spawnDaemon,
  status,
  validBatch,
  writeConfig,
} from './fixtures/daemon.js';

async function checkpoints(dir: string): Promise<{ file: string; step: number }[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.hfckpt')).sort();
  const out: { file: string; step: number }[] = [];
  for (const f of files) out.push({ file: f, step: decodeCheckpoint(await readFile(join(dir, f))).step });
  return out;
}

t.test(
  'kill -9 mid-training, restart resumes; lock refuses a second daemon; corrupt checkpoints are skipped',
  async (t) => {
    const dir = await scratchDir(t);
    const ckdir = join(dir, 'ckpt');
    const config = await writeConfig(dir, daemonConfig(dir, { queueLimit: 64, checkpointEvery: 4 }));

    // Three kill -9 cycles at random points while batches stream in; each restart must resume from the
    // newest checkpoint on disk, and every checkpoint left behind must decode and verify.
    let expectResumeAt: number | null = null;
    let newest = 0;
    for (let cycle = 0; cycle < 3; cycle++) {
      const d = await spawnDaemon(t, config);
      const resumedAt = d.lines.find((l) => l.event === 'resumed')?.step ?? null;
      t.equal(
        resumedAt,
        expectResumeAt,
        `cycle ${cycle}: resumed from the newest checkpoint (${expectResumeAt})`,
      );
      const start = (await status(d.url)).step as number;
      t.ok(
        expectResumeAt === null || start >= expectResumeAt,
        `cycle ${cycle}: step ${start} >= checkpointed step`,
      );
      const c = await FrameClient.connect(d.socketPort);
      t.teardown(() => c.close());
      for (let k = 0; k < 24; k++) c.send(packr.pack(validBatch(2, cycle * 100 + k)));
      await d.waitForLine((l) => l.event === 'checkpoint' && (l.step as number) >= start + 4);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 150)));
      d.proc.kill('SIGKILL');
      await d.exited;
      c.close();
      const left = await checkpoints(ckdir);
      t.ok(
        left.length >= 1 && left.length <= 4,
        `cycle ${cycle}: at most keepLast (+1 killed before pruning) checkpoints (${left.length})`,
      );
      newest = left[left.length - 1].step;
      t.ok(newest >= start + 4, `cycle ${cycle}: newest checkpoint at step ${newest}`);
      t.ok(existsSync(join(ckdir, 'daemon.lock')), `cycle ${cycle}: the killed daemon left its lock behind`);
      expectResumeAt = newest;
    }

    const d2 = await spawnDaemon(t, config);
    t.ok(
      d2.lines.some((l) => typeof l.stalePid === 'number'),
      'stale lock of the dead process taken over',
    );
    const resumed = d2.lines.find((l) => l.event === 'resumed');
    t.ok(resumed, 'the log says it resumed');
    t.equal(resumed?.step, newest, 'resumed from the newest checkpoint');
    const s = await status(d2.url);
    t.ok((s.step as number) >= newest, `step ${s.step as number} >= checkpointed step ${newest}`);

    // a second daemon on the same directory is refused with a clear error
    const d3 = spawnDaemon(t, config, 30_000);
    await t.rejects(d3, /in use by another hessflow daemon \(pid \d+\)/, 'second daemon refused');

    d2.proc.kill('SIGTERM');
    t.equal(await d2.exited, 0, 'graceful stop exits 0');
    const stopped = d2.lines.find((l) => l.event === 'stopped');
    t.ok(stopped, 'final checkpoint written');
    t.notOk(existsSync(join(ckdir, 'daemon.lock')), 'lock released');
    const after = await checkpoints(ckdir);
    t.equal(after[after.length - 1].step, stopped?.step, 'the final checkpoint is the newest and valid');

    // corrupt the newest checkpoint: the next start skips it, says so, and uses the one before
    const files = after.map((a) => a.file);
    const victim = join(ckdir, files[files.length - 1]);
    const bytes = await readFile(victim);
    bytes[bytes.length - 3] ^= 0xff;
    await writeFile(victim, bytes);
    const d4 = await spawnDaemon(t, config);
    t.ok(
      d4.lines.some((l) => l.msg === 'skipping corrupt checkpoint' && String(l.error).includes('checksum')),
      'corrupt checkpoint skipped with a log line',
    );
    t.equal(
      d4.lines.find((l) => l.event === 'resumed')?.step,
      after[after.length - 2].step,
      'resumed from the previous one',
    );
    d4.proc.kill('SIGTERM');
    t.equal(await d4.exited, 0);
  },
);
