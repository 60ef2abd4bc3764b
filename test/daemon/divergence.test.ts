/**
 * #21 item 6, the campaign's case: one valid batch with features at 3.4e38, then normal batches. With SGD
 * it left θ finite but near 1e37, and every later batch was acknowledged and skipped. Now (both engines,
 * SGD and AdamW) such a batch is refused before it is acknowledged (`maxFeatureMagnitude`), and where the
 * bound is lifted, `divergenceSteps` consecutive skipped steps stop training as diverged: ingest answers
 * 503 `diverged`, the status and `hessflow_diverged` say so, the queue is kept through a restart, and
 * the log says how to recover. Real daemons over real sockets.
 */
import t from 'tap';
import { DivergenceWatch } from '../../src/daemon/divergence.js';
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

const EXTREME = 3.4e38;

function extremeBatch(k: number): ReturnType<typeof validBatch> {
  const b = validBatch(2, k);
  b.inputs = b.inputs.map(() => EXTREME);
  return b;
}

function config(dir: string, engine: 'trainer' | 'pipeline', optimizer: string, extra = {}) {
  return daemonConfig(dir, {
    ...(engine === 'pipeline' ? { engine, workers: 1, shards: 1 } : { engine }),
    // relu passes the huge pre-activation through (tanh would saturate it away)
    model: { kind: 'mlp', sizes: [8, 6, 3], activation: 'relu' },
    optimizer: { name: optimizer, lr: 0.01 },
    curvature: undefined,
    checkpointEvery: 0,
    queueLimit: 32,
    ...extra,
  });
}

t.test('DivergenceWatch counts consecutive skipped steps only', async (t) => {
  const w = new DivergenceWatch(3);
  t.equal(w.observe(1, 0, true), false);
  t.equal(w.observe(2, 1, true), false);
  t.equal(w.observe(3, 2, false), false, 'an applied step ends the run');
  t.equal(w.observe(4, 3, true), false);
  t.equal(w.observe(5, 4, true), false);
  t.equal(w.observe(6, 5, true), true, 'the third in a row trips it');
  t.same(w.diverged, { steps: 3, firstStep: 3, firstSeq: 4, lastSeq: 6 });
  t.equal(w.observe(7, 6, true), false, 'reported once');
  w.clear();
  t.equal(w.diverged, null);
  const off = new DivergenceWatch(0);
  for (let i = 0; i < 100; i++) t.equal(off.observe(i, i, true), false);
  t.throws(() => new DivergenceWatch(-1), /divergenceSteps/);
});

for (const engine of ['trainer', 'pipeline'] as const)
  for (const optimizer of ['sgd', 'adamw'])
    t.test(
      `${engine} engine, ${optimizer}: an extreme batch is refused before it is acknowledged`,
      async (t) => {
        const dir = await scratchDir(t);
        const d = await spawnDaemon(t, await writeConfig(dir, config(dir, engine, optimizer)));
        const c = await FrameClient.connect(d.socketPort);
        t.teardown(() => c.close());
        for (let k = 0; k < 3; k++) c.send(packr.pack(validBatch(2, k)));
        await waitForStatus(d.url, (s) => s.step === 3);
        c.send(packr.pack(extremeBatch(3)));
        await c.waitFor(() => c.acks.length === 4);
        t.equal(c.acks[3].reason, 'feature_range', 'socket: refused, not acknowledged');
        t.match(c.acks[3].error, /inputs\[0\]\[0\] = 3\.\d+e\+38 exceeds maxFeatureMagnitude 1000000/);
        const r = await postJson(`${d.url}/v1/batches`, { ...extremeBatch(3), id: 'row-77' });
        t.equal(r.status, 400);
        const body = (await r.json()) as { reason: string; error: string };
        t.equal(body.reason, 'feature_range', 'HTTP: refused');
        t.match(body.error, /^batch "row-77": inputs\[0\]\[0\]/, 'naming the batch');
        for (let k = 4; k < 10; k++) c.send(packr.pack(validBatch(2, k)));
        await c.waitFor(() => c.acks.length === 10);
        t.same(
          c.acks.slice(4),
          [4, 5, 6, 7, 8, 9].map((seq) => ({ seq })),
          'normal batches are acknowledged in order',
        );
        const s = await waitForStatus(d.url, (x) => x.step === 9);
        t.equal(s.skipped, 0, 'and every one is applied (none skipped)');
        t.equal(s.paramsVersion, 9);
        t.equal(s.diverged, null);
        d.proc.kill('SIGTERM');
        t.equal(await d.exited, 0);
      },
    );

for (const engine of ['trainer', 'pipeline'] as const)
  t.test(
    `${engine} engine, sgd, no feature bound: divergence stops training and keeps the queue`,
    async (t) => {
      const dir = await scratchDir(t);
      const path = await writeConfig(
        dir,
        config(dir, engine, 'sgd', { maxFeatureMagnitude: 0, divergenceSteps: 4 }),
      );
      const d = await spawnDaemon(t, path);
      const c = await FrameClient.connect(d.socketPort);
      t.teardown(() => c.close());
      // Queue everything first, so what divergence leaves in the queue is known exactly.
      t.equal((await fetch(`${d.url}/v1/pause`, { method: 'POST' })).status, 200);
      const sent = [validBatch(2, 0), validBatch(2, 1), extremeBatch(2)];
      for (let k = 3; k < 15; k++) sent.push(validBatch(2, k));
      for (const b of sent) c.send(packr.pack(b));
      await c.waitFor(() => c.acks.length === 15);
      t.same(
        c.acks,
        sent.map((_, i) => ({ seq: i + 1 })),
        'all 15 acknowledged (seq 3 is the extreme one)',
      );
      t.equal((await fetch(`${d.url}/v1/resume`, { method: 'POST' })).status, 200);
      const s = await waitForStatus(d.url, (x) => x.diverged !== null);
      // seq 1, 2 applied; seq 3 applied too (finite, huge θ); seq 4..7 skipped; then stop.
      t.same(s.diverged, { steps: 4, firstStep: 3, firstSeq: 4, lastSeq: 7 }, 'status: diverged');
      t.equal(s.step, 7);
      t.equal(s.skipped, 4);
      t.equal(s.queueDepth, 8, 'seq 8..15 kept');
      t.equal((s.step as number) + (s.queueDepth as number), 15, 'stepped + queued = acknowledged');
      await new Promise((r) => setTimeout(r, 500));
      t.equal((await status(d.url)).step, 7, 'no step after it');

      c.send(packr.pack(validBatch(2, 20)));
      await c.waitFor(() => c.acks.length === 16);
      t.equal(c.acks[15].reason, 'diverged', 'socket ingest refused');
      const r = await postJson(`${d.url}/v1/batches`, validBatch(2, 21));
      t.equal(r.status, 503, 'HTTP ingest: 503');
      t.equal(((await r.json()) as { reason: string }).reason, 'diverged');
      const m = await (await fetch(`${d.url}/metrics`)).text();
      t.match(m, /^hessflow_diverged 1$/m, 'metric');
      const line = await d.waitForLine((l) => l.event === 'diverged');
      t.equal(line.firstSeq, 4);
      t.equal(line.queued, 8);
      t.match(line.msg, /To recover: stop the daemon .* move the checkpoints written at or after step 3/);

      d.proc.kill('SIGTERM');
      t.equal(await d.exited, 0, 'a graceful stop checkpoints the queue');
      const again = await spawnDaemon(t, path);
      const s2 = await status(again.url);
      t.same(s2.diverged, s.diverged, 'restarted: still diverged');
      t.equal(s2.queueDepth, 8, 'with the queue');
      t.equal(s2.step, 7);
      const r2 = await postJson(`${again.url}/v1/batches`, validBatch(2, 22));
      t.equal(r2.status, 503);
      await again.waitForLine((l) => l.event === 'diverged');
      again.proc.kill('SIGTERM');
      t.equal(await again.exited, 0);
    },
  );
