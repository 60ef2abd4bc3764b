/**
 * The pipeline's ports onto its piscina pools: gradient shards on the gradient pool (θ read zero copy
 * from the shared buffer at the version the coordinator published) and probes on the probe pool. A
 * worker's failure past the retry bound comes back as data; here it becomes the error it was.
 */
import { from, map } from 'rxjs';
import type { PoolPorts, ProbeResult } from '../step/ports.js';
import type { ShardGradient } from '../step/records.js';
import { deserializeError } from '../workers/errors.js';
import type { WorkerPools } from '../workers/pools.js';

export function workerPoolPorts(pools: WorkerPools): PoolPorts {
  const { gradients, probes } = pools;
  return {
    gradient: (step, shardIndex, shard, totalPredictions) =>
      from(gradients.gradient(step, shardIndex, shard, totalPredictions, step)).pipe(
        map((r): ShardGradient => ({ loss: r.lossSum, grad: r.grad, nonFinite: r.nonFinite })),
      ),
    probe: (task) => {
      if (!probes) throw new Error('pipeline: a probe was launched but the pools have no probe workers');
      return from(probes.probe(task)).pipe(
        map((r): ProbeResult => {
          if (r.error) throw deserializeError(r.error);
          return {
            diag: r.diag,
            ...(r.v && r.hv ? { pair: { v: r.v, hv: r.hv } } : {}),
            nonFinite: r.nonFinite,
            ...(r.grad ? { grad: r.grad, loss: r.loss } : {}),
            ...(r.backend ? { backend: r.backend } : {}),
            ...(r.notes ? { notes: r.notes } : {}),
            ...(r.seconds !== undefined ? { seconds: r.seconds } : {}),
          };
        }),
      );
    },
  };
}
