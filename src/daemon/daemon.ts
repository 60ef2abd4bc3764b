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
 * lost (at most `checkpointEvery` steps of work plus the queue accepted since). Messages of `ingest.nats`
 * are exactly once across crashes too: their stream position is part of each checkpoint, and they are
 * acknowledged to the broker only once a checkpoint holding them is durable. Whether training was
 * paused is checkpointed too: a daemon paused at its last checkpoint restarts paused and logs so.
 */
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { buildModel } from '../nn/models/registry.js';
import type { Model } from '../nn/model.js';
import { CheckpointStore } from './checkpoint-store.js';
import type { DaemonConfig } from './config.js';
import { type DirLock, acquireDirLock } from './dir-lock.js';
import type { Divergence } from './divergence.js';
import type { EngineSnapshot, TrainingEngine } from './engine.js';
import { PipelineEngine } from './pipeline-engine.js';
import { TrainerEngine } from './trainer-engine.js';
import { createHttpServer } from './http-server.js';
import { DaemonMetrics } from './metrics.js';
import { createSocketServer } from './socket-server.js';
import { IngestError } from './errors.js';
import { optimizerOf } from './optimizers.js';
import { checkpointProblems } from '../pipeline/checkpoint.js';
import { mkdirSync } from 'node:fs';
import { importWithNats } from '../streams/nats-packages.js';

/** While checkpoints fail, a write is retried this often (and ingest refused meanwhile). */
const CHECKPOINT_RETRY_MS = 1000;
/** Attempts at the final checkpoint of a graceful stop before giving up and reporting what is lost. */
const FINAL_CHECKPOINT_TRIES = 3;

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
  store.onPruneNote = (n) =>
    logger.warn(
      { checkpoint: n.path, error: n.error, movedTo: n.movedTo },
      n.kind === 'unreadable'
        ? 'not pruning a checkpoint that cannot be read (kept for inspection)'
        : 'not pruning a corrupt checkpoint: moved aside',
    );
  // A CheckpointUnreadableError (the newest checkpoint cannot be read) refuses the start.
  const { found, skipped } = await store.loadNewestValid();
  for (const s of skipped)
    logger.warn({ checkpoint: s.path, error: s.error, movedTo: s.movedTo }, 'skipping corrupt checkpoint');
  if (found && found.snapshot.params.length !== model.layout.size) {
    throw new Error(
      `checkpoint ${found.path} holds ${found.snapshot.params.length} parameters but the configured model has ` +
        `${model.layout.size}; use another checkpointDir for a different model`,
    );
  }
  if (found) checkResumable(found.path, found.snapshot, config, model);
  if (found) {
    const { paused, diverged } = found.snapshot;
    logger.info(
      {
        event: 'resumed',
        checkpoint: found.path,
        step: found.snapshot.step,
        queued: found.snapshot.queue.length,
        paused,
        diverged: diverged ?? null,
      },
      `resumed from checkpoint ${found.path} at step ${found.snapshot.step}` +
        (paused ? '; paused, as when the checkpoint was written (POST /v1/resume to train)' : '') +
        (diverged
          ? '; training had diverged when it was written, and stays stopped (see the diverged log line)'
          : ''),
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
    maxFeatureMagnitude: config.maxFeatureMagnitude,
    divergenceSteps: config.divergenceSteps,
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
    ? new (await importWithNats(() => import('./nats-ingest.js'), "the daemon's ingest.nats")).NatsIngest({
        config: config.ingest.nats,
        engine,
        logger,
        dir: config.checkpointDir,
        maxMessageBytes: config.maxFrameBytes,
        ...(found?.snapshot.nats ? { resumeFrom: found.snapshot.nats } : {}),
      })
    : null;
  // Without ingest.nats now, a resumed checkpoint's stream position is carried on unchanged, so turning
  // the ingest on again later does not train the messages it covers a second time.
  const carriedNats = found?.snapshot.nats;
  nats?.registerMetrics(metrics.registry);

  /** Why ingest is refused now (503 with the reason), or null while batches are taken. */
  const refusal = (): IngestError | null => {
    if (!accepting) return new IngestError('shutting_down', 'the daemon is shutting down', 503);
    if (!persistence.ok)
      return new IngestError(
        'persistence_failed',
        `checkpoints cannot be written (${persistence.lastError}); batches are refused until one succeeds`,
        503,
      );
    const halted = engine.halted;
    if (halted)
      return new IngestError(
        'training_halted',
        `training is halted: the step of batch ${halted.seq} failed (${halted.error}); ` +
          'POST /v1/resume retries it',
        503,
      );
    const diverged = engine.diverged;
    if (diverged)
      return new IngestError(
        'diverged',
        `training diverged: ${diverged.steps} consecutive steps (batches ${diverged.firstSeq}..${diverged.lastSeq}) ` +
          'were not finite; batches are refused until an operator recovers (see the daemon log)',
        503,
      );
    return null;
  };
  /**
   * Whether checkpoints can be written. After a failed write (disk full, I/O error) ingest answers 503
   * `persistence_failed` (acknowledging batches that cannot be persisted would only grow what a crash
   * loses), /v1/status and the metrics say so, and a write is retried every CHECKPOINT_RETRY_MS until one
   * succeeds. Training goes on meanwhile.
   */
  const persistence = {
    ok: true,
    failures: 0,
    lastError: null as string | null,
    lastErrorAt: null as string | null,
    lastCheckpoint: found ? { path: found.path, step: found.snapshot.step } : null,
  };
  /**
   * Training diverged (divergence.ts): say what happened and how to recover. θ is not trusted any more,
   * so the advice is to go back to a checkpoint from before the skipped run; the queue stays in memory
   * and goes into the final checkpoint of a graceful stop, and producers that resend from that older
   * checkpoint's nextSeq lose nothing.
   */
  function logDiverged(d: Divergence): void {
    metrics.diverged.set(1);
    const last = persistence.lastCheckpoint;
    logger.error(
      { event: 'diverged', ...d, queued: engine.queueDepth, lastCheckpoint: last },
      `training diverged: ${d.steps} consecutive steps from step ${d.firstStep} (batches ` +
        `${d.firstSeq}..${d.lastSeq}) had a non-finite loss, gradient, update or state on valid batches, so the ` +
        `weights or optimizer state have gone bad. Training has stopped; ${engine.queueDepth} queued batches ` +
        'are kept and ingest answers 503 "diverged". To recover: stop the daemon (SIGTERM; its final ' +
        `checkpoint keeps the queue), move the checkpoints written at or after step ${d.firstStep} ` +
        'out of checkpointDir (an earlier one may be needed if the weights went bad before the skips began), ' +
        'fix the cause (lower lr, lower maxFeatureMagnitude), restart, and resend every batch with seq >= the ' +
        'nextSeq that /v1/status reports. POST /v1/resume instead retries on the current weights.',
    );
  }
  let retry: ReturnType<typeof setTimeout> | null = null;
  const checkpoint = async (): Promise<{ path: string; step: number }> => {
    let r;
    let snapshot;
    try {
      snapshot = await engine.snapshot();
      // The stream position goes into the checkpoint itself: state and position are durable together.
      const position = nats ? nats.position(snapshot.nextSeq) : carriedNats;
      if (position) snapshot = { ...snapshot, nats: position };
      r = await store.save(snapshot);
    } catch (err) {
      persistence.ok = false;
      persistence.failures++;
      persistence.lastError = (err as Error).message;
      persistence.lastErrorAt = new Date().toISOString();
      metrics.checkpointFailures.inc();
      metrics.persistenceFailing.set(1);
      logger.error(
        { err, event: 'checkpoint_failed', failures: persistence.failures },
        'checkpoint failed: ingest is refused (503 persistence_failed) until a checkpoint succeeds',
      );
      if (accepting && retry === null)
        retry = setTimeout(() => {
          retry = null;
          if (accepting) checkpoint().catch(() => undefined);
        }, CHECKPOINT_RETRY_MS);
      throw new IngestError(
        'persistence_failed',
        `the checkpoint could not be written: ${(err as Error).message}`,
        503,
      );
    }
    if (!persistence.ok) logger.info({ event: 'checkpoint_recovered' }, 'checkpoints work again');
    persistence.ok = true;
    persistence.lastCheckpoint = { path: r.path, step: r.step };
    metrics.persistenceFailing.set(0);
    // The messages this checkpoint holds are durable: acknowledge them.
    if (nats && snapshot.nats) nats.checkpointed(snapshot.nats);
    metrics.checkpoints.inc();
    logger.info({ event: 'checkpoint', checkpoint: r.path, step: r.step }, 'checkpoint written');
    return { path: r.path, step: r.step };
  };

  engine.onStep(({ seq, metrics: m }) => {
    nats?.applied(seq);
    metrics.steps.inc();
    metrics.step.set(m.step + 1);
    // Not engine.status(): the pipeline engine's copies θ and the optimizer state, and after every step
    // that churned ~(params + state) of ArrayBuffers per step, growing RSS outside the JS heap (#21 item 12).
    metrics.queueDepth.set(engine.queueDepth);
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
      checkpoint().catch(() => undefined); // logged, counted and retried by checkpoint()
    }
  });
  engine.onDiverged(logDiverged);
  engine.onProbe((p) => metrics.probeSeconds.observe({ estimator: p.estimator }, p.seconds));
  engine.onError((err, seq, dropped) => {
    metrics.reject('step_error');
    if (dropped) logger.error({ err, seq }, 'step failed; batch dropped');
    else
      logger.error(
        { err, seq, event: 'halted' },
        'step failed for a reason other than its batch; the batch is kept and training is halted ' +
          '(ingest answers 503; POST /v1/resume retries, a graceful stop checkpoints the queue)',
      );
  });

  const app = createHttpServer({
    engine,
    metrics,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    limits: {
      httpMaxConnections: config.httpMaxConnections,
      httpRequestTimeoutMs: config.httpRequestTimeoutMs,
      httpIdleTimeoutMs: config.httpIdleTimeoutMs,
    },
    ...(config.token ? { token: config.token } : {}),
    checkpoint,
    refusal,
    status: () => ({
      ...engine.status(),
      persistence: { ...persistence },
      ...(nats ? { nats: nats.status() } : {}),
    }),
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
          maxConnections: config.maxConnections,
          idleTimeoutMs: config.socketIdleTimeoutMs,
          refusal,
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

  // Restored from a checkpoint written after training diverged: still stopped, say so again.
  if (engine.diverged) logDiverged(engine.diverged);
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
  if (!config.token && !isLoopback(config.host))
    logger.warn(
      { event: 'insecure_bind', host: config.host },
      `listening on ${config.host}, which is not a loopback address, without a token: anyone who can ` +
        'reach it can pause, change hyperparameters, read the weights and (always unauthenticated) ' +
        'ingest; set "token" in the config or bind 127.0.0.1',
    );
  logger.info({ event: 'listening', host: config.host, httpPort, socketPort }, 'listening');

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      accepting = false;
      nats?.stopIngest();
      logger.info({ event: 'stopping' }, 'stopping: ingest closed, finishing the current step');
      await Promise.all([sock?.close(), app.close()]);
      await engine.stop();
      if (retry) clearTimeout(retry);
      await store.flush().catch(() => undefined);
      let final: { path: string; step: number } | null = null;
      for (let attempt = 0; final === null && attempt < FINAL_CHECKPOINT_TRIES; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, CHECKPOINT_RETRY_MS));
        final = await checkpoint().catch(() => null);
      }
      await nats?.close();
      if (final === null) {
        // Say exactly what is lost: the queue (acknowledged, unapplied) and the steps since the last
        // checkpoint that was written.
        const snap = await engine.snapshot();
        const seqs = snap.queue.map((q) => q.seq);
        const last = persistence.lastCheckpoint;
        const lost = {
          event: 'lost',
          queuedBatches: seqs.length,
          firstSeq: seqs[0] ?? null,
          lastSeq: seqs[seqs.length - 1] ?? null,
          step: snap.step,
          lastCheckpoint: last,
          stepsSinceLastCheckpoint: snap.step - (last?.step ?? 0),
          error: persistence.lastError,
        };
        logger.fatal(
          lost,
          `final checkpoint failed (${persistence.lastError}): ${seqs.length} acknowledged batches ` +
            (seqs.length ? `(seq ${seqs[0]}..${seqs[seqs.length - 1]}) ` : '') +
            `and ${lost.stepsSinceLastCheckpoint} steps since the last checkpoint ` +
            `(${last ? `${last.path}, step ${last.step}` : 'none'}) are lost`,
        );
        lock.release();
        throw new Error(
          `final checkpoint failed: ${seqs.length} acknowledged batches and ` +
            `${lost.stepsSinceLastCheckpoint} steps are lost (${persistence.lastError})`,
        );
      }
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

/**
 * Refuses to resume from a checkpoint the configured optimizer cannot continue: one written by another
 * optimizer (recorded in the checkpoint), or (checkpoints before the name was recorded) whose state the
 * optimizer's own update does not accept. Both engines: without it the trainer engine would acknowledge
 * batches and fail every step.
 */
function checkResumable(path: string, snap: EngineSnapshot, config: DaemonConfig, model: Model): void {
  const want = config.optimizer.name;
  const advice = 'use the optimizer it was written with, or another checkpointDir to start afresh';
  if (snap.optimizer !== undefined && snap.optimizer !== want)
    throw new Error(
      `checkpoint ${path} was written with optimizer "${snap.optimizer}" but the config says "${want}"; ${advice}`,
    );
  const problems = checkpointProblems(
    {
      params: snap.params,
      optState: snap.optState,
      step: snap.step,
      skipped: snap.skipped,
      pending: snap.pending.map((e) => ({ diag: e.diag, launchedAt: e.launchedAt })),
    },
    model.layout.size,
    optimizerOf(config.optimizer, model).optimizer,
  );
  if (problems.length > 0)
    throw new Error(
      `checkpoint ${path} cannot be resumed with optimizer "${want}": ${problems.join('; ')}; ${advice}`,
    );
}

/** Whether `host` names only this machine (127.0.0.0/8, ::1, localhost). */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}
