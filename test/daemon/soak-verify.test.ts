/** The soak benchmark's no-loss check (bench/soak/verify.ts) against a real daemon: it passes when every
 * acknowledged batch was applied and reports an acknowledged sequence number that never was. */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startDaemonProcess } from '../../bench/soak/daemon-process.js';
import { verifyNoLoss } from '../../bench/soak/verify.js';
import { daemonConfig, postJson, scratchDir, validBatch, writeConfig } from './fixtures/daemon.js';

async function ackedRun(t: Test, n: number) {
  const dir = await scratchDir(t);
  const config = await writeConfig(dir, daemonConfig(dir, { checkpointEvery: 0 }));
  const d = await startDaemonProcess(config);
  t.teardown(() => d.stop(5000));
  const acked: number[] = [];
  for (let k = 0; k < n; k++) {
    const r = await postJson(`${d.url}/v1/batches`, validBatch(2, k));
    acked.push(((await r.json()) as { seq: number }).seq);
  }
  t.ok(d.rssBytes() > 10 * 2 ** 20, 'RSS is read from /proc');
  return { d, acked, ckdir: join(dir, 'ckpt') };
}

t.test('every acknowledged batch applied: no problems, final checkpoint at that step', async (t) => {
  const { d, acked, ckdir } = await ackedRun(t, 7);
  const v = await verifyNoLoss(d, acked, ckdir);
  t.same(v.problems, []);
  t.match(v, {
    acked: 7,
    issued: 7,
    applied: 7,
    lost: 0,
    duplicates: 0,
    exitCode: 0,
    finalCheckpointStep: 7,
  });
  t.equal(v.finalCheckpointQueue, 0);
  t.equal(v.metrics.get('hessflow_steps_total'), 7);
});

t.test('an acknowledged sequence number that was never applied is reported', async (t) => {
  const { d, acked, ckdir } = await ackedRun(t, 4);
  const v = await verifyNoLoss(d, [...acked, 9, acked[0]], ckdir);
  t.equal(v.lost, 1);
  t.equal(v.duplicates, 1);
  t.match(v.problems.join('\n'), /1 acknowledged batches were not applied/);
  t.match(v.problems.join('\n'), /acknowledged twice/);
});
