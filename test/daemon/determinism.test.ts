import t from 'tap';
import {
  daemonConfig,
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

t.test(
  'a run killed with -9 and resumed (producer resends from nextSeq) equals an uninterrupted one',
  async (t) => {
    const dirA = await scratchDir(t);
    const dirB = await scratchDir(t);
    const overrides = { checkpointEvery: 4, curvature: { estimator: 'gnb', every: 3 } };
    const [a, b] = await Promise.all([
      writeConfig(dirA, daemonConfig(dirA, overrides)).then((p) => spawnDaemon(t, p)),
      writeConfig(dirB, daemonConfig(dirB, overrides)).then(async (p) => ({
        path: p,
        d: await spawnDaemon(t, p),
      })),
    ]);

    for (let k = 0; k < N; k++)
      t.equal((await postJson(`${a.url}/v1/batches`, validBatch(2, k))).status, 200);
    await waitForStatus(a.url, (s) => s.step === N);
    const uninterrupted = await weights(a.url);

    // b: all batches acknowledged, killed once a checkpoint past step 8 exists
    for (let k = 0; k < N; k++) await postJson(`${b.d.url}/v1/batches`, validBatch(2, k));
    await b.d.waitForLine((l) => l.event === 'checkpoint' && (l.step as number) >= 8);
    b.d.proc.kill('SIGKILL');
    await b.d.exited;

    const b2 = await spawnDaemon(t, b.path);
    const s = await status(b2.url);
    const next = s.nextSeq as number;
    t.ok(next >= 9, `resumed with nextSeq ${next}`);
    // seq k+1 carried batch k: resend what the checkpoint did not hold
    for (let k = next - 1; k < N; k++) {
      const r = (await (await postJson(`${b2.url}/v1/batches`, validBatch(2, k))).json()) as { seq: number };
      t.equal(r.seq, k + 1, 'sequence numbers continue from the checkpoint');
    }
    await waitForStatus(b2.url, (x) => x.step === N);
    t.ok(
      (await weights(b2.url)).equals(uninterrupted),
      'parameters equal the uninterrupted run, bit for bit',
    );
    a.proc.kill('SIGTERM');
    b2.proc.kill('SIGTERM');
    t.equal(await a.exited, 0);
    t.equal(await b2.exited, 0);
  },
);
