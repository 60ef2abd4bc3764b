/**
 * The pipeline's ports onto remote workers (src/workers/remote/remote-pool.ts), alone or beside its
 * piscina pools. The NATS client is loaded and connected only when a pipeline has remote workers, so
 * the rest of the pipeline works without the optional `@nats-io/*` packages.
 */
import { defer, finalize, from } from 'rxjs';
import type { RemoteWorkersConfig } from '../config/remote-workers.js';
import type { ModelSpec } from '../nn/model.js';
import type { PoolPorts } from '../step/ports.js';
import { importWithNats } from '../streams/nats-packages.js';
import { RemotePool } from '../workers/remote/remote-pool.js';
import { DEFAULT_RUN } from '../workers/remote/subjects.js';
import type { LiveTheta } from '../workers/remote/theta-server.js';

export interface RemoteWorkers {
  pool: RemotePool;
  ports: PoolPorts;
  /** Stops serving θ and closes the connection. */
  close(): Promise<void>;
}

/** Connects (lazily: the first task waits for it) and serves θ from `live` to the run's workers. */
export function openRemoteWorkers(
  r: RemoteWorkersConfig,
  live: LiveTheta,
  modelSpec: ModelSpec,
  maxRetries: number,
): RemoteWorkers {
  const run = r.run ?? DEFAULT_RUN;
  const nc = importWithNats(() => import('../streams/nats-connection.js'), 'remote workers').then((m) =>
    m.connectNats({
      servers: r.nats,
      name: `hessflow-coordinator-${run}`,
      ...(r.tokenFile !== undefined ? { tokenFile: r.tokenFile } : {}),
      ...(r.tokenEnv !== undefined ? { tokenEnv: r.tokenEnv } : {}),
      ...(r.connectTimeoutMs !== undefined ? { connectTimeoutMs: r.connectTimeoutMs } : {}),
    }),
  );
  nc.catch(() => undefined);
  const pool = new RemotePool({
    nc,
    run,
    modelSpec,
    ...live,
    maxRetries,
    ...(r.taskTimeoutMs !== undefined ? { taskTimeoutMs: r.taskTimeoutMs } : {}),
    ...(r.noWorkerTimeoutMs !== undefined ? { noWorkerTimeoutMs: r.noWorkerTimeoutMs } : {}),
    ...(r.ackTimeoutMs !== undefined ? { ackTimeoutMs: r.ackTimeoutMs } : {}),
    ...(r.heartbeatMs !== undefined ? { heartbeatMs: r.heartbeatMs } : {}),
  });
  return {
    pool,
    ports: {
      gradient: (step, shardIndex, shard, totalPredictions) =>
        from(pool.gradient(step, shardIndex, shard, totalPredictions)),
      probe: (task) => from(pool.probe(task)),
    },
    close: async () => {
      await pool.close();
      const c = await nc.catch(() => null);
      await c?.close().catch(() => undefined);
    },
  };
}

/**
 * Local threads first: a shard goes to the local pool while fewer than `threads` local shards are in
 * flight, else to the remote workers. Probes go to the local probe pool when `localProbes`.
 */
export function mixedPorts(
  local: PoolPorts,
  threads: number,
  localProbes: boolean,
  remote: PoolPorts,
): PoolPorts {
  let busy = 0;
  return {
    gradient: (step, shardIndex, shard, totalPredictions) => {
      if (busy >= threads) return remote.gradient(step, shardIndex, shard, totalPredictions);
      busy++;
      return defer(() => local.gradient(step, shardIndex, shard, totalPredictions)).pipe(
        finalize(() => busy--),
      );
    },
    probe: (task) => (localProbes ? local.probe(task) : remote.probe(task)),
  };
}
