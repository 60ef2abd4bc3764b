/**
 * Wires the daemon together: lock the checkpoint directory, resume from the newest valid checkpoint, start
 * the engine, the HTTP and socket servers, checkpoint periodically; `stop()` is the graceful shutdown
 * (stop ingest, let the step in progress finish, write a final checkpoint holding the unapplied queue,
 * release the lock).
 *
 * What is guaranteed about acknowledged batches: a batch acknowledged with a sequence number is applied
 * exactly once, in sequence order, across any number of graceful shutdowns (the final checkpoint carries
 * the queue, which is restored before ingest reopens). After a crash (kill -9, power loss) training resumes
 * from the newest valid checkpoint with the queue it held; batches acknowledged after that checkpoint are
 * lost (at most `checkpointEvery` steps of work plus the queue accepted since). Whether training was
 * paused is checkpointed too: a daemon paused at its last checkpoint restarts paused and logs so.
 */
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { buildModel } from '../nn/models/registry.js';
import { CheckpointStore } from './checkpoint-store.js';
import type { DaemonConfig } from './config.js';
import { type DirLock, acquireDirLock } from './dir-lock.js';
import type { TrainingEngine } from './engine.js';
import { PipelineEngine } from './pipeline-engine.js';
import { TrainerEngine } from './trainer-engine.js';
import { createHttpServer } from './http-server.js';
import { DaemonMetrics } from './metrics.js';
import { createSocketServer } from './socket-server.js';
import { mkdirSync } from 'node:fs';

export interface StartDaemonOptions {
  logger?: Logger;
  /** fsync checkpoints (default true). */
  fsync?: boolean;
}

export interface DaemonHandle {
  readonly host: string;
  readonly httpPort: number;
  readonly socketPort: number | null;
  readonly engine: TrainingEngine;
  readonly logger: Logger;
  checkpoint(): Promise<{ path: string; step: number }>;
  /** Graceful shutdown; idempotent. */
  stop(): Promise<void>;
}

export async function startDaemon(
  config: DaemonConfig,
  options: StartDaemonOptions = {},
): Promise<DaemonHandle> {
  const logger = options.logger ?? pino({ name: 'hessflow-daemon' });
  mkdirSync(config.checkpointDir, { recursive: true });
  const lock: DirLock = acquireDirLock(config.checkpointDir);
  if (lock.tookOverStalePid !== null)
    logger.warn(
      { lock: lock.path, stalePid: lock.tookOverStalePid },
      'took over a stale lock of a process that is gone',
    );
  try {
    return await startLocked(config, options, logger, lock);
  } catch (e) {
    lock.release();
    throw e;
  }
}

async function startLocked(
  config: DaemonConfig,
  options: StartDaemonOptions,
  logger: Logger,
  lock: DirLock,
): Promise<DaemonHandle> {
  const model = buildModel(config.model);
  const store = new CheckpointStore(config.checkpointDir, config.keepLast, options.fsync ?? true);
  const { found, skipped } = await store.loadNewestValid();
  for (const s of skipped) logger.warn({ checkpoint: s.path, error: s.error }, 'skipping corrupt checkpoint');
  if (found && found.snapshot.params.length !== model.layout.size) {
    throw new Error(
      `checkpoint ${found.path} holds ${found.snapshot.params.length} parameters but the configured model has ` +
        `${model.layout.size}; use another checkpointDir for a different model`,
    );
  }
  if (found) {
    const paused = found.snapshot.paused;
    logger.info(
      {
        event: 'resumed',
        checkpoint: found.path,
        step: found.snapshot.step,
        queued: found.snapshot.queue.length,
        paused,
      },
      `resumed from checkpoint ${found.path} at step ${found.snapshot.step}` +
        (paused ? '; paused, as when the checkpoint was written (POST /v1/resume to train)' : ''),
    );
  } else {
    logger.info(
      { event: 'fresh', checkpointDir: config.checkpointDir },
      'no checkpoint found; starting fresh',
    );
  }

  const common = {
    model,
    optimizer: config.optimizer,
    seed: config.seed,
    queueLimit: config.queueLimit,
    ...(config.curvature ? { curvature: config.curvature } : {}),
    ...(found ? { resume: found.snapshot } : {}),
  };
  const engine: TrainingEngine =
    config.engine === 'pipeline'
      ? new PipelineEngine({
          ...common,
          modelSpec: config.model,
          ...(config.workers !== undefined ? { workers: config.workers } : {}),
          ...(config.shards !== undefined ? { shards: config.shards } : {}),
        })
      : new TrainerEngine(common);
  const metrics = new DaemonMetrics();
  metrics.step.set(engine.status().step);

  let accepting = true;
  // NATS ingest (ingest.nats): loaded only when configured; acknowledges after each durable checkpoint.
  const nats = config.ingest?.nats
    ? new (await import('./nats-ingest.js')).NatsIngest({
        config: config.ingest.nats,
        engine,
        logger,
        dir: config.checkpointDir,
        maxMessageBytes: config.maxFrameBytes,
      })
    : null;
  nats?.registerMetrics(metrics.registry);

  const checkpoint = async (): Promise<{ path: string; step: number }> => {
    const snapshot = await engine.snapshot();
    const r = await store.save(snapshot);
    await nats?.checkpointed(snapshot.nextSeq);
    metrics.checkpoints.inc();
    logger.info({ event: 'checkpoint', checkpoint: r.path, step: r.step }, 'checkpoint written');
    return { path: r.path, step: r.step };
  };

  engine.onStep(({ seq, metrics: m }) => {
    nats?.applied(seq);
    metrics.steps.inc();
    metrics.step.set(m.step + 1);
    metrics.queueDepth.set(engine.status().queueDepth);
    metrics.stepSeconds.observe(m.ms / 1000);
    if (m.skipped) metrics.skippedSteps.inc();
    else {
      metrics.samples.inc(m.predictions);
      metrics.loss.set(m.loss);
    }
    if (m.winRate !== undefined) metrics.winRate.set(m.winRate);
    if (m.curvatureStaleness !== undefined) metrics.curvatureStaleness.set(m.curvatureStaleness);
    logger.debug({ step: m.step, seq, loss: m.loss, ms: m.ms }, 'step');
    if (config.checkpointEvery > 0 && (m.step + 1) % config.checkpointEvery === 0) {
      checkpoint().catch((err) => logger.error({ err }, 'periodic checkpoint failed'));
    }
  });
  engine.onProbe((p) => metrics.probeSeconds.observe({ estimator: p.estimator }, p.seconds));
  engine.onError((err, seq) => {
    metrics.reject('step_error');
    logger.error({ err, seq }, 'step failed; batch dropped');
  });

  const app = createHttpServer({
    engine,
    metrics,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    ...(config.token ? { token: config.token } : {}),
    checkpoint,
    accepting: () => accepting,
    ...(nats ? { statusExtra: () => ({ nats: nats.status() }) } : {}),
  });
  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (e) {
    // The pipeline engine holds worker threads from construction: let them go.
    await engine.stop();
    throw e;
  }
  const httpPort = (app.server.address() as AddressInfo).port;

  let socketPort: number | null = null;
  const sock =
    config.socketPort === null
      ? null
      : createSocketServer({
          engine,
          metrics,
          logger,
          maxFrameBytes: config.maxFrameBytes,
          accepting: () => accepting,
        });
  if (sock) {
    try {
      await new Promise<void>((resolve, reject) => {
        sock.server.once('error', reject);
        sock.server.listen(config.socketPort!, config.host, () => resolve());
      });
    } catch (e) {
      await app.close();
      await engine.stop();
      throw e;
    }
    socketPort = (sock.server.address() as AddressInfo).port;
  }

  engine.start();
  if (nats) {
    try {
      // A lost broker mid-run is retried with backoff (status shows it); past maxOutageMs it is logged
      // as an error and /v1/status keeps the reason, while HTTP and TCP ingest go on.
      await nats.start((err) => logger.error({ err: { message: err.message } }, 'NATS ingest stopped'));
    } catch (e) {
      await Promise.all([sock?.close(), app.close()]);
      await engine.stop();
      await nats.close();
      throw e;
    }
  }
  logger.info({ event: 'listening', host: config.host, httpPort, socketPort }, 'listening');

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      accepting = false;
      logger.info({ event: 'stopping' }, 'stopping: ingest closed, finishing the current step');
      nats?.stopIngest();
      await Promise.all([sock?.close(), app.close()]);
      await engine.stop();
      await store.flush().catch(() => undefined);
      const final = await checkpoint();
      await nats?.close();
      logger.info(
        { event: 'stopped', step: final.step, checkpoint: final.path },
        'final checkpoint written; stopped',
      );
      lock.release();
    })();
    return stopping;
  };

  return { host: config.host, httpPort, socketPort, engine, logger, checkpoint, stop };
}
