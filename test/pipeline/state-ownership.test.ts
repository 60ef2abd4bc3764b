/**
 * The coordinator recycles the optimizer states it replaces (src/optim/array-pool.ts). What it hands
 * out (snapshots, checkpoints) and what it was handed (a checkpoint to resume from) must keep their
 * values while training goes on.
 */
import t from 'tap';
import { lastValueFrom } from 'rxjs';
import { adamw } from '../../src/optim/index.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import { WorkerPools } from '../../src/workers/pools.js';
import { firstDifference } from '../optim/helpers.js';
import { batchOf, model, modelSpec, spec } from './fixtures.js';

t.test('snapshots, checkpoints and a resumed checkpoint keep their optimizer state', async (t) => {
  const pools = new WorkerPools({ modelSpec, layoutSize: model.layout.size, workers: 1, probeWorkers: 0 });
  t.teardown(() => pools.close());
  const config = { model: modelSpec, optimizer: adamw({ lr: 0.01 }), seed: 5, pools, batchSpec: spec };
  const p = createPipeline(config);
  let cp: Awaited<ReturnType<typeof p.checkpoint>>;
  let cpThen: unknown;
  let reached: unknown;
  try {
    await lastValueFrom(p.run(fromDataset(batchOf, { end: 3 })));
    const snap = p.snapshot();
    cp = await p.checkpoint();
    const snapThen = structuredClone(snap.optState);
    cpThen = structuredClone(cp.optState);
    await lastValueFrom(p.run(fromDataset(batchOf, { start: 3, end: 8 })));
    t.equal(firstDifference(snap.optState, snapThen), null, 'the snapshot taken at step 3 is unchanged');
    t.equal(firstDifference(cp.optState, cpThen), null, 'the checkpoint taken at step 3 is unchanged');
    reached = p.snapshot().optState;
    t.not(firstDifference(reached, snapThen), null, 'while the live state moved on');
  } finally {
    await p.close();
  }
  // The pools serve one pipeline at a time.
  const resumed = createPipeline({ ...config, resumeFrom: cp });
  try {
    await lastValueFrom(resumed.run(fromDataset(batchOf, { start: 3, end: 8 })));
    t.equal(firstDifference(cp.optState, cpThen), null, 'resuming from it leaves it unchanged too');
    t.equal(firstDifference(resumed.snapshot().optState, reached), null, 'and reaches the same state');
  } finally {
    await resumed.close();
  }
});
