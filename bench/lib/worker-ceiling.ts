/**
 * The most a second gradient worker can give on this machine, measured with the pipeline's own worker
 * path and nothing else: the two half-batch shard gradients of a batch one after the other on a
 * 1-thread pool (as the 1-worker pipeline computes them), then both at once on a 2-thread pool. With a
 * coordinator that cost nothing, 2 workers would be sequential/together × faster than 1; below 2 when
 * the two threads slow each other down (shared caches, memory bandwidth, a busy host).
 */
import type { Batch } from '../../src/data/batch.js';
import { initialParams, type ModelSpec } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { shardBatch } from '../../src/step/shards.js';
import { deserializeError } from '../../src/workers/errors.js';
import { WorkerPools } from '../../src/workers/pools.js';

export interface WorkerCeiling {
  /** ms for the two shard gradients one after the other on one thread (mean of `reps`). */
  sequentialMs: number;
  /** ms for the two started together, one per thread (mean of `reps`). */
  togetherMs: number;
  /** sequential/together. */
  ceiling: number;
}

export async function workerCeiling(spec: ModelSpec, batch: Batch, reps = 4): Promise<WorkerCeiling> {
  const model = buildModel(spec);
  const params = initialParams(model, 1) as Float32Array;
  const total = batch.targets.length;
  const shards = shardBatch(batch, 2);
  const start = (workers: number) => {
    const pools = new WorkerPools({
      modelSpec: spec,
      layoutSize: model.layout.size,
      workers,
      probeWorkers: 0,
    });
    new Float32Array(pools.paramsBuffer).set(params);
    return pools;
  };
  const [one, two] = [start(1), start(2)];
  try {
    const task = async (pools: WorkerPools, i: number) => {
      const r = await pools.gradients.gradient(0, i, shards[i], total, 0);
      if (r.error) throw deserializeError(r.error);
    };
    const sequential = async () => {
      await task(one, 0);
      await task(one, 1);
    };
    const together = () => Promise.all([task(two, 0), task(two, 1)]);
    const timed = async (run: () => Promise<unknown>) => {
      for (let i = 0; i < 2; i++) await run(); // thread start-up and JIT
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) await run();
      return (performance.now() - t0) / reps;
    };
    const sequentialMs = await timed(sequential);
    const togetherMs = await timed(together);
    return { sequentialMs, togetherMs, ceiling: sequentialMs / togetherMs };
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
}
