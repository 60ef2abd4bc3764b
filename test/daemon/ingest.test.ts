import t from 'tap';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import {
  FrameClient,
  daemonConfig,
  packr,
  postJson,
  postRaw,
  scratchDir,
  spawnDaemon,
  status,
  validBatch,
  waitForStatus,
  writeConfig,
} from './fixtures/daemon.js';

const TOKEN = 'secret-token-123';
const auth = { authorization: `Bearer ${TOKEN}` };

/** Posts until accepted, as a producer honouring 429 does (the pipeline's steps are slower than the queue). */
async function accepted(post: () => Promise<Response>): Promise<Response> {
  for (;;) {
    const r = await post();
    if (r.status !== 429) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
}

// The same scenario with either engine: the servers see only the TrainingEngine interface.
const ENGINES: Record<string, Record<string, unknown>> = {
  trainer: {},
  pipeline: { engine: 'pipeline', workers: 1, shards: 2 },
};

for (const [engine, engineKeys] of Object.entries(ENGINES))
  t.test(
    `engine ${engine}: ingest over HTTP (JSON, msgpack) and the socket; control, metrics, backpressure, graceful stop`,
    async (t) => {
      const dir = await scratchDir(t);
      const config = await writeConfig(
        dir,
        daemonConfig(dir, { token: TOKEN, queueLimit: 4, ...engineKeys }),
      );
      const d = await spawnDaemon(t, config);

      // JSON
      const seqs: number[] = [];
      for (let k = 0; k < 3; k++) {
        const r = await accepted(() => postJson(`${d.url}/v1/batches`, validBatch(2, k)));
        t.equal(r.status, 200);
        seqs.push(((await r.json()) as { seq: number }).seq);
      }
      // msgpack: plain arrays and typed arrays
      const b = validBatch(3, 5);
      let r = await accepted(() => postRaw(`${d.url}/v1/batches`, packr.pack(b), 'application/msgpack'));
      t.equal(r.status, 200);
      seqs.push(((await r.json()) as { seq: number }).seq);
      const typed = { ...b, inputs: Float32Array.from(b.inputs), targets: Int32Array.from(b.targets) };
      r = await accepted(() => postRaw(`${d.url}/v1/batches`, packr.pack(typed), 'application/msgpack'));
      t.equal(r.status, 200);
      seqs.push(((await r.json()) as { seq: number }).seq);
      t.same(seqs, [1, 2, 3, 4, 5], 'acknowledged with consecutive sequence numbers');

      // socket
      const c = await FrameClient.connect(d.socketPort);
      t.teardown(() => c.close());
      for (let k = 0; k < 3; k++) c.send(packr.pack(validBatch(1, 10 + k)));
      await c.waitFor(() => c.acks.length === 3);
      t.same(c.acks, [{ seq: 6 }, { seq: 7 }, { seq: 8 }], 'socket acks in order');

      let s = await waitForStatus(d.url, (x) => x.step === 8);
      t.equal(s.paramsVersion, 8);
      t.equal(s.backend, 'cpu');
      t.equal(s.queueDepth, 0);
      t.same((s.optimizer as { name: string }).name, 'sophiaG');

      const metrics = await (await fetch(`${d.url}/metrics`)).text();
      t.match(metrics, /^hessflow_steps_total 8$/m, 'metrics count the steps');
      t.match(metrics, /^hessflow_samples_total 15$/m, 'metrics count the samples');
      t.match(metrics, /^hessflow_batches_accepted_total\{transport="socket"\} 3$/m);
      t.match(metrics, /^hessflow_step_duration_seconds_count 8$/m);
      t.match(metrics, /^hessflow_loss \d/m);
      t.match(metrics, /^hessflow_win_rate /m);

      // control endpoints need the token
      r = await fetch(`${d.url}/v1/pause`, { method: 'POST' });
      t.equal(r.status, 401);
      t.equal(((await r.json()) as { reason: string }).reason, 'unauthorized');
      r = await fetch(`${d.url}/v1/weights`);
      t.equal(r.status, 401);

      r = await postJson(`${d.url}/v1/hyperparams`, { lr: 0.005 }, auth);
      t.equal(r.status, 200);
      t.same(
        ((await status(d.url)).optimizer as { hyperparams: Record<string, number> }).hyperparams.lr,
        0.005,
      );
      r = await postJson(`${d.url}/v1/hyperparams`, { nope: 1 }, auth);
      t.equal(r.status, 400);
      t.equal(((await r.json()) as { reason: string }).reason, 'unknown_hyperparameter');
      r = await postJson(`${d.url}/v1/hyperparams`, { lr: -1 }, auth);
      t.equal(r.status, 400, 'an out-of-range value is refused before any step uses it');

      r = await postJson(`${d.url}/v1/evaluate`, validBatch(4, 1), auth);
      t.equal(r.status, 200);
      const ev = (await r.json()) as { loss: number; accuracy: number; predictions: number };
      t.ok(Number.isFinite(ev.loss) && ev.predictions === 4, 'evaluate answers loss and accuracy');

      r = await fetch(`${d.url}/v1/weights`, { headers: auth });
      t.equal(r.status, 200);
      const st = decodeSafetensors(new Uint8Array(await r.arrayBuffer()));
      t.equal(st.tensors.size, 4, 'weights are safetensors, one tensor per layer parameter');
      t.equal(st.metadata?.step, '8');

      // pause: batches queue up; full queue → 429 + Retry-After; the socket stops reading
      r = await fetch(`${d.url}/v1/pause`, { method: 'POST', headers: auth });
      t.equal(r.status, 200);
      for (let k = 0; k < 4; k++)
        t.equal((await postJson(`${d.url}/v1/batches`, validBatch(1, k))).status, 200);
      r = await postJson(`${d.url}/v1/batches`, validBatch(1, 9));
      t.equal(r.status, 429, 'full queue answers 429');
      t.equal(r.headers.get('retry-after'), '1');
      t.equal(((await r.json()) as { reason: string }).reason, 'queue_full');
      c.send(packr.pack(validBatch(1, 20)));
      await new Promise((res) => setTimeout(res, 300));
      t.equal(c.acks.length, 3, 'socket frame not acknowledged while the queue is full');
      s = await status(d.url);
      t.equal(s.step, 8);
      t.equal(s.queueDepth, 4);

      r = await fetch(`${d.url}/v1/resume`, { method: 'POST', headers: auth });
      t.equal(r.status, 200);
      await c.waitFor(() => c.acks.length === 4);
      t.same(c.acks[3], { seq: 13 }, 'the waiting frame is accepted once there is room');
      await waitForStatus(d.url, (x) => x.step === 13);

      r = await fetch(`${d.url}/v1/checkpoint`, { method: 'POST', headers: auth });
      t.equal(r.status, 200);
      t.equal(((await r.json()) as { step: number }).step, 13);

      // graceful stop with unapplied batches: they come back after restart
      await fetch(`${d.url}/v1/pause`, { method: 'POST', headers: auth });
      for (let k = 0; k < 3; k++) await postJson(`${d.url}/v1/batches`, validBatch(1, k));
      t.equal((await status(d.url)).queueDepth, 3);
      c.close();
      d.proc.kill('SIGTERM');
      t.equal(await d.exited, 0, 'SIGTERM exits 0');
      t.ok(
        d.lines.some((l) => l.event === 'stopped' && l.step === 13),
        'final checkpoint logged',
      );

      const d2 = await spawnDaemon(t, config);
      t.ok(
        d2.lines.some((l) => l.event === 'resumed' && l.step === 13),
        'restart resumes from the final checkpoint',
      );
      // it was paused at the final checkpoint, so it comes back paused
      t.equal((await status(d2.url)).paused, true, 'restarted paused');
      r = await fetch(`${d2.url}/v1/resume`, { method: 'POST', headers: auth });
      t.equal(r.status, 200);
      s = await waitForStatus(d2.url, (x) => x.step === 16);
      t.equal(
        s.nextSeq,
        17,
        'no acknowledged batch lost across a graceful restart; sequence numbers continue',
      );
      d2.proc.kill('SIGTERM');
      t.equal(await d2.exited, 0);
    },
  );
