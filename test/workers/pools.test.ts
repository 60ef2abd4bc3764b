import t from 'tap';
import { initialParams } from '../../src/nn/model.js';
import { shardBatch, shardGradient } from '../../src/step/shards.js';
import { estimateCurvature, resolveCurvature } from '../../src/step/curvature-schedule.js';
import { GradientPool, ProbePool, type PoolOptions } from '../../src/workers/pools.js';
import type { FailureHook } from '../../src/workers/protocol.js';
import { batchOf, firstBitDifference, model, modelSpec } from '../pipeline/fixtures.js';

function shared(): Pick<PoolOptions, 'modelSpec' | 'paramsBuffer' | 'versionBuffer'> & {
  params: Float32Array;
} {
  const paramsBuffer = new SharedArrayBuffer(model.layout.size * 4);
  const params = new Float32Array(paramsBuffer);
  params.set(initialParams(model, 4));
  return { modelSpec, paramsBuffer, versionBuffer: new SharedArrayBuffer(4), params };
}

const batch = batchOf(3);
const shards = shardBatch(batch, 4);
const total = batch.targets.length;

async function gradientsWith(failOn?: FailureHook, maxRetries = 2) {
  const s = shared();
  const retries: string[] = [];
  const pool = new GradientPool({
    ...s,
    threads: 1,
    maxRetries,
    onRetry: (a, c) => {
      if (!/version 5/.test(c.message)) retries.push(`${a}:${c.message}`);
    },
    ...(failOn ? { failOn } : {}),
  });
  try {
    const res = await Promise.all(shards.map((sh, i) => pool.gradient(0, i, sh, total, 0)));
    // A task for another parameter version is refused, never computed on stale parameters.
    const stale = await pool
      .gradient(0, 0, shards[0], total, 5)
      .catch((e: { code?: string; message: string }) => e);
    return { res, retries, params: s.params, stale };
  } finally {
    await pool.close();
  }
}

t.test('a gradient worker returns exactly the in-thread shard gradient', async (t) => {
  const { res, params, stale } = await gradientsWith(undefined, 0);
  t.match(stale, { message: /task expects parameter version 5, shared buffer holds 0/ });
  for (let i = 0; i < shards.length; i++) {
    const want = shardGradient(model, params, shards[i], total);
    t.equal(res[i].shardIndex, i);
    t.equal(res[i].error, null);
    t.equal(res[i].lossSum, want.loss);
    t.equal(firstBitDifference(res[i].grad, want.grad), -1, `shard ${i}`);
  }
});

t.test('a task that throws or whose worker exits is retried with an identical result', async (t) => {
  for (const mode of ['throw', 'exit'] as const) {
    const r = await gradientsWith({ shardIndex: 2, times: 2, mode });
    t.equal(r.retries.length, 2, `${mode}: two retries (${r.retries.join('; ')})`);
    for (let i = 0; i < shards.length; i++)
      t.equal(
        firstBitDifference(r.res[i].grad, shardGradient(model, r.params, shards[i], total).grad),
        -1,
        `${mode}: shard ${i} equals the in-thread gradient`,
      );
  }
});

t.test('past maxRetries the task fails with the original cause', async (t) => {
  await t.rejects(gradientsWith({ shardIndex: 1, times: 3, mode: 'throw' }, 2), {
    message: /injected failure in shard 1 of step 0 \(attempt 0\)/,
  });
});

t.test(
  'the probe worker (user model module) equals estimateCurvature, also after a retried failure',
  async (t) => {
    // The probe thread builds a user model kind from a module it imports by URL.
    const s = { ...shared(), modelSpec: { ...modelSpec, kind: 'test-custom-mlp' } };
    const modelModules = [new URL('./custom-model.ts', import.meta.url).href];
    const pool = new ProbePool({
      ...s,
      modelModules,
      maxRetries: 1,
      failOn: { step: 7, times: 1, mode: 'exit' },
    });
    try {
      for (const estimator of ['gnb', 'hutchinson'] as const) {
        const want = estimateCurvature(resolveCurvature({ estimator }), model, s.params, batch, 9, 7);
        const got = await pool.probe({
          estimator,
          step: 7,
          seed: 9,
          probes: 1,
          params: s.params.slice(),
          batch,
        });
        t.equal(firstBitDifference(got.diag, want.diag), -1, `${estimator} diag`);
        if (estimator === 'hutchinson') {
          t.equal(got.loss, want.loss);
          t.equal(firstBitDifference(got.grad!, want.grad!), -1, 'hutchinson grad');
        }
      }
    } finally {
      await pool.close();
    }
  },
);

t.test('concurrent tasks of one shard index never share a slot', async (t) => {
  // The pipeline never does this, but a caller may: the second task must not overwrite the first's shard.
  const s = shared();
  const pool = new GradientPool({ ...s, threads: 2, maxRetries: 0 });
  try {
    const [a, b] = await Promise.all([
      pool.gradient(0, 0, shards[0], total, 0),
      pool.gradient(0, 0, shards[3], total, 0),
    ]);
    const wantA = shardGradient(model, s.params, shards[0], total);
    const wantB = shardGradient(model, s.params, shards[3], total);
    t.equal(firstBitDifference(a.grad, wantA.grad), -1, 'first task: its own shard');
    t.equal(firstBitDifference(b.grad, wantB.grad), -1, 'second task: its own shard');
    t.equal(a.lossSum, wantA.loss);
    t.equal(b.lossSum, wantB.loss);
    t.not(a.grad.buffer, b.grad.buffer, 'separate result buffers');
  } finally {
    await pool.close();
  }
});
