/**
 * The remote protocol's pieces on a real nats-server: frames keep −0 and raw bytes; θ crosses in chunks
 * below max_payload, is fetched once per version however many ask, and a version the coordinator no
 * longer holds is refused; a chunked result is rebuilt exactly, in whatever order its chunks arrive.
 */
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { floatsOf, frame, unframe } from '../../src/workers/remote/frame.js';
import { ResultCollector, chunkBytesFor, publishResult } from '../../src/workers/remote/result-chunks.js';
import { runSubjects } from '../../src/workers/remote/subjects.js';
import { ThetaCache } from '../../src/workers/remote/theta-client.js';
import { ThetaServer } from '../../src/workers/remote/theta-server.js';
import { natsSkipReason, startNatsServer } from '../helpers/nats-server.js';

const random = (n: number, seed: number) =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 437.5);

t.test('frame: msgpack head (−0 kept) and raw bytes after it', (t) => {
  const a = Float32Array.of(1.5, -0, NaN, 3e-39);
  const b = Int32Array.of(-7, 2 ** 31 - 1);
  const msg = frame({ loss: -0, step: 3 }, a, b);
  // A frame at an odd offset of a larger buffer, as a client's read buffer holds it.
  const shifted = new Uint8Array(msg.length + 1);
  shifted.set(msg, 1);
  const { head, body } = unframe<{ loss: number; step: number }>(shifted.subarray(1));
  t.ok(Object.is(head.loss, -0), 'a loss of −0 keeps its sign');
  t.equal(head.step, 3);
  t.equal(body.length, 24, 'the arrays as raw bytes, nothing more');
  const back = floatsOf(body.subarray(0, 16));
  t.same(new Uint32Array(back.buffer), new Uint32Array(a.buffer), 'float bits exact (−0, NaN, subnormal)');
  t.same(new Int32Array(floatsOf(body.subarray(16)).buffer), b);
  t.throws(() => unframe(Uint8Array.of(200, 0, 0, 0, 1)), /overruns/);
  t.throws(() => floatsOf(new Uint8Array(3)), /whole number of float32/);
  t.end();
});

t.test('chunk size leaves room for the head below max_payload', (t) => {
  t.equal(chunkBytesFor(1024 * 1024), 1024 * 1024 - 2048);
  t.equal(chunkBytesFor(undefined), 1024 * 1024 - 2048, 'the NATS default when the server does not say');
  t.equal(chunkBytesFor(1000), 4096, 'never below 4 KiB');
  t.end();
});

t.test('run subjects: one namespace per run; a bad run name is refused', (t) => {
  const a = runSubjects('exp-1');
  t.equal(a.tasks('w1'), 'hessflow.exp-1.tasks.w1');
  t.equal(a.hello, 'hessflow.exp-1.hello');
  t.equal(a.theta('s1'), 'hessflow.exp-1.theta.s1');
  t.not(runSubjects('exp-2').hello, a.hello);
  t.throws(() => runSubjects('a.b'), /run name "a.b" must be/);
  t.throws(() => runSubjects('*'), /subject token/);
  t.end();
});

t.test('θ and results over NATS', { skip: natsSkipReason() }, async (t) => {
  const nats = await startNatsServer(t);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const subject = (s: string) => `hessflow.wire.theta.${s}`;

  await t.test('θ in 10 chunks, fetched once per version, other versions refused', async (t) => {
    const params = random(10_000, 1);
    const version = Int32Array.of(7);
    const server = new ThetaServer(nc, subject('s1'), { params, version }, 4096);
    t.teardown(() => server.close());
    await nc.flush();
    const cache = new ThetaCache(nc, subject, 'w1', 5000);
    const [x, y] = await Promise.all([cache.get('s1', 7, 10_000), cache.get('s1', 7, 10_000)]);
    t.same(new Uint32Array(x.buffer), new Uint32Array(params.buffer), 'θ bit for bit');
    t.equal(x, y, 'one array for both');
    t.equal(server.fetches.get('w1'), 1, 'one fetch for two tasks of one version');
    await cache.get('s1', 7, 10_000);
    t.equal(server.fetches.get('w1'), 1, 'cached');
    await t.rejects(cache.get('s1', 6, 10_000), {
      code: 'ERR_STALE_PARAMS',
      message: /version 6 is no longer served/,
    });
    await t.rejects(cache.get('s1', 7, 9_999), /has 10000 values, the task says 9999/);
    // A probe's snapshot stays served while held, after θ has moved on.
    const snapshot = params.slice();
    server.hold(7, snapshot);
    params[0] = 42;
    version[0] = 8;
    const held = await new ThetaCache(nc, subject, 'w2', 5000).get('s1', 7, 10_000);
    t.equal(held[0], snapshot[0], 'the held snapshot, not the live θ');
    server.release(7);
    await t.rejects(new ThetaCache(nc, subject, 'w3', 5000).get('s1', 7, 10_000), {
      code: 'ERR_STALE_PARAMS',
    });
  });

  await t.test('a result in many chunks is rebuilt exactly', async (t) => {
    const diag = random(3000, 2);
    const grad = random(2500, 3);
    const v = random(1, 4);
    const c = new ResultCollector(nc, 'hessflow.wire.result.t1', 't1');
    t.teardown(() => c.close());
    await nc.flush();
    const head = {
      taskId: 't1',
      worker: 'w',
      version: 3,
      loss: -0,
      nonFinite: false,
      error: null,
      arrays: [
        { name: 'diag' as const, length: diag.length },
        { name: 'grad' as const, length: grad.length },
        { name: 'v' as const, length: v.length },
      ],
    };
    // Another task's chunk on the same subject is ignored.
    publishResult(nc, 'hessflow.wire.result.t1', { ...head, taskId: 'other' }, [diag, grad, v], 4096);
    publishResult(nc, 'hessflow.wire.result.t1', head, [diag, grad, v], 4096);
    const r = await c.result;
    t.ok(Object.is(r.head.loss, -0));
    t.same(new Uint32Array(r.arrays.diag!.buffer), new Uint32Array(diag.buffer), 'diag bit for bit');
    t.same(new Uint32Array(r.arrays.grad!.buffer), new Uint32Array(grad.buffer), 'grad bit for bit');
    t.same(r.arrays.v, v);
  });
});
