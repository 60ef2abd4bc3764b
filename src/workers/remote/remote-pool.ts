/**
 * The coordinator's side of remote workers: shard gradients and curvature probes sent over NATS to
 * the least busy live worker of the run (WorkerRoster), with θ served by version (ThetaServer).
 *
 * One attempt: subscribe to the attempt's result subject, send the task by request-reply to the least
 * busy live worker of the roster (roster.ts; the worker acks at once), then wait for the result chunks
 * while pinging the worker's alive subject. The attempt fails — the worker leaves the roster until it
 * says hello again, and the task is retried on another — when the ack does not come, the worker stops
 * answering pings (a killed process has no responder left; a cut link stops answering), the task
 * outlives `taskTimeoutMs`, or the result is for another θ version (refused). With no live worker at all
 * the task waits up to `noWorkerTimeoutMs` for one, then the step errors with ERR_NO_REMOTE_WORKERS:
 * never a hang.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Batch } from '../../data/batch.js';
import type { ModelSpec } from '../../nn/model.js';
import type { ProbeResult, ProbeTask } from '../../step/ports.js';
import type { ShardGradient } from '../../step/records.js';
import { Errors } from '../errors.js';
import { arrayKind } from '../protocol.js';
import { withRetries } from '../retry.js';
import { RemoteErrors } from './errors.js';
import { frame, unframe } from './frame.js';
import type { GradientTaskHead, ProbeTaskHead, TaskAck, TaskHead } from './messages.js';
import { type CollectedResult, ResultCollector, chunkBytesFor } from './result-chunks.js';
import { WorkerRoster } from './roster.js';
import { type RunSubjects, runSubjects } from './subjects.js';
import { type LiveTheta, ThetaServer } from './theta-server.js';

export interface RemotePoolOptions extends LiveTheta {
  /** The broker connection (a promise: the pipeline connects lazily, on its first task). */
  nc: Promise<NatsConnection>;
  run: string;
  modelSpec: ModelSpec;
  /** Attempts after the first (default 2). */
  maxRetries?: number;
  /** Longest an attempt may take from ack to complete result (default 120 s). */
  taskTimeoutMs?: number;
  /** Longest to wait for any worker to be there (default 10 s). */
  noWorkerTimeoutMs?: number;
  /** How long a worker has to ack a task, and to answer each ping (default 2 s). */
  ackTimeoutMs?: number;
  /** Pings to the worker of a running attempt every this many ms; 3 unanswered fail it (default 1 s). */
  heartbeatMs?: number;
  onRetry?: (attempt: number, cause: Error) => void;
}

export interface RemotePoolStats {
  /** Results accepted, per worker id. */
  tasksByWorker: Map<string, number>;
  /** Whole θ fetches served, per worker id. */
  thetaFetches: Map<string, number>;
  /** Results refused for a θ version other than the task's. */
  staleRefused: number;
  retries: number;
  /** Retries by the code of what failed (ERR_REMOTE_WORKER_LOST, ERR_REMOTE_ACK_TIMEOUT, …). */
  retryCauses: Map<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const isNoResponders = (e: unknown) => {
  const err = e as { isNoResponders?: () => boolean; cause?: { name?: string } } | null;
  return err?.isNoResponders?.() === true || err?.cause?.name === 'NoRespondersError';
};

export class RemotePool {
  private readonly subjects: RunSubjects;
  /** This pool's session: its θ subject, and the key workers cache its θ versions under. */
  private readonly session = randomUUID().replaceAll('-', '');
  private readonly started: Promise<{
    nc: NatsConnection;
    theta: ThetaServer;
    roster: WorkerRoster;
    maxPayload: number;
  }>;
  private readonly tasksByWorker = new Map<string, number>();
  private staleRefused = 0;
  private retries = 0;
  private readonly retryCauses = new Map<string, number>();
  private closed = false;
  private startedTheta: ThetaServer | null = null;

  constructor(private readonly o: RemotePoolOptions) {
    this.subjects = runSubjects(o.run);
    this.started = o.nc.then((nc) => {
      const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
      const theta = new ThetaServer(nc, this.subjects.theta(this.session), o, chunkBytesFor(maxPayload));
      return { nc, theta, roster: new WorkerRoster(nc, this.subjects), maxPayload };
    });
    this.started.catch(() => undefined);
  }

  /** One shard's loss part and gradient at θ of version `step` (the live θ). */
  async gradient(
    step: number,
    shardIndex: number,
    shard: Batch,
    totalPredictions: number,
  ): Promise<ShardGradient> {
    const r = await this.run(
      { kind: 'gradient', version: step, step, shardIndex, totalPredictions },
      shard,
      `gradient of step ${step} shard ${shardIndex}`,
    );
    if (r.head.nonFinite) return { loss: NaN, grad: new Float32Array(0), nonFinite: true };
    return { loss: r.head.loss!, grad: r.arrays.grad!, nonFinite: false };
  }

  /** One estimate on `task.params` (θ_step, held and served as version `task.step` until it is done). */
  async probe(task: ProbeTask): Promise<ProbeResult> {
    const { theta } = await this.started;
    theta.hold(task.step, task.params);
    try {
      const r = await this.run(
        {
          kind: 'probe',
          version: task.step,
          step: task.step,
          estimator: task.estimator,
          seed: task.seed,
          probes: task.probes,
        },
        task.batch,
        `probe of step ${task.step}`,
      );
      const { head, arrays } = r;
      return {
        diag: arrays.diag ?? new Float32Array(0),
        ...(arrays.v && arrays.hv ? { pair: { v: arrays.v, hv: arrays.hv } } : {}),
        nonFinite: head.nonFinite,
        ...(arrays.grad ? { grad: arrays.grad, loss: head.loss } : {}),
        ...(head.backend ? { backend: head.backend as ProbeResult['backend'] } : {}),
        ...(head.notes ? { notes: head.notes } : {}),
        ...(head.seconds !== undefined ? { seconds: head.seconds } : {}),
      };
    } finally {
      theta.release(task.step);
    }
  }

  stats(): RemotePoolStats {
    return {
      tasksByWorker: new Map(this.tasksByWorker),
      thetaFetches: new Map(this.startedTheta?.fetches ?? []),
      staleRefused: this.staleRefused,
      retries: this.retries,
      retryCauses: new Map(this.retryCauses),
    };
  }

  /** The task with retries; the wait for a first worker is shared by all attempts (one bound). */
  private async run(work: Work, batch: Batch, what: string): Promise<CollectedResult> {
    const started = await this.started;
    this.startedTheta = started.theta;
    const noWorkerSince = { at: Number.NaN };
    return withRetries(
      async (attempt) => {
        const r = await this.attempt(started, { ...work, attempt }, batch, what, noWorkerSince);
        if (r.head.error) return { ...r, error: r.head.error };
        if (r.head.version !== work.version) {
          this.staleRefused++;
          started.roster.suspect(r.head.worker);
          throw RemoteErrors.StaleResult(work.version, r.head.version);
        }
        const n = this.o.params.length;
        if (work.kind === 'gradient' && !r.head.nonFinite && r.arrays.grad?.length !== n) {
          // A malformed answer counts as a failed attempt, as in the local pools: retried, never reduced.
          started.roster.suspect(r.head.worker);
          throw Errors.BadResponse(`gradient of ${r.arrays.grad?.length ?? 0} values, want ${n}`);
        }
        const w = r.head.worker;
        this.tasksByWorker.set(w, (this.tasksByWorker.get(w) ?? 0) + 1);
        return { ...r, error: null };
      },
      this.o.maxRetries ?? 2,
      (attempt, cause) => {
        this.retries++;
        const code = (cause as { code?: string }).code ?? cause.name;
        this.retryCauses.set(code, (this.retryCauses.get(code) ?? 0) + 1);
        this.o.onRetry?.(attempt, cause);
      },
    );
  }

  private async attempt(
    s: { nc: NatsConnection; roster: WorkerRoster; maxPayload: number },
    work: Work & { attempt: number },
    batch: Batch,
    what: string,
    noWorkerSince: { at: number },
  ): Promise<CollectedResult> {
    if (this.closed) throw RemoteErrors.Closed();
    const taskId = randomUUID().replaceAll('-', '');
    const reply = this.subjects.result(taskId);
    const head = {
      ...work,
      taskId,
      session: this.session,
      reply,
      model: this.o.modelSpec,
      thetaLength: this.o.params.length,
      ...layoutOf(batch),
    } as TaskHead;
    const msg = frame(head, batch.inputs, batch.targets);
    if (msg.length > s.maxPayload)
      throw RemoteErrors.TooLarge(`the task of ${what}`, msg.length, s.maxPayload);
    const collector = new ResultCollector(s.nc, reply, taskId);
    let worker: string | null = null;
    try {
      worker = await this.send(s.nc, s.roster, msg, noWorkerSince);
      return await this.watch(s.nc, worker, collector.result, what);
    } catch (e) {
      // A worker that failed a task gets no more until it says hello again.
      if (worker) s.roster.suspect(worker);
      throw e;
    } finally {
      collector.close();
      if (worker) s.roster.done(worker);
    }
  }

  /**
   * Sends the task to the least busy live worker, which acks with its id; a worker that has just gone
   * (no responder) is skipped. With none in the roster, waits for one, boundedly.
   */
  private async send(
    nc: NatsConnection,
    roster: WorkerRoster,
    msg: Uint8Array,
    noWorkerSince: { at: number },
  ): Promise<string> {
    const ackMs = this.o.ackTimeoutMs ?? 2000;
    const bound = this.o.noWorkerTimeoutMs ?? 10_000;
    for (;;) {
      if (this.closed) throw RemoteErrors.Closed();
      const worker = roster.take();
      if (worker === null) {
        if (Number.isNaN(noWorkerSince.at)) noWorkerSince.at = Date.now();
        if (Date.now() - noWorkerSince.at >= bound) throw RemoteErrors.NoWorkers(this.subjects.hello, bound);
        await sleep(Math.min(100, bound / 10));
        continue;
      }
      noWorkerSince.at = Number.NaN;
      try {
        const ack = await nc.request(this.subjects.tasks(worker), msg, { timeout: ackMs });
        unframe<TaskAck>(ack.data);
        return worker;
      } catch (e) {
        roster.done(worker);
        roster.suspect(worker);
        if (!isNoResponders(e)) throw RemoteErrors.AckTimeout(this.subjects.tasks(worker), ackMs);
      }
    }
  }

  /** The result, or an error once the worker stops answering pings or the task outlives its bound. */
  private watch(
    nc: NatsConnection,
    worker: string,
    result: Promise<CollectedResult>,
    what: string,
  ): Promise<CollectedResult> {
    const beat = this.o.heartbeatMs ?? 1000;
    const pingMs = this.o.ackTimeoutMs ?? 2000;
    const limit = this.o.taskTimeoutMs ?? 120_000;
    return new Promise<CollectedResult>((resolve, reject) => {
      let done = false;
      let missed = 0;
      let pinging = false;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        clearInterval(pings);
        clearTimeout(overall);
        f();
      };
      const overall = setTimeout(() => finish(() => reject(RemoteErrors.TaskTimeout(what, limit))), limit);
      const pings = setInterval(() => {
        if (pinging || done) return;
        pinging = true;
        nc.request(this.subjects.alive(worker), undefined, { timeout: pingMs })
          .then(() => (missed = 0))
          .catch((e: unknown) => {
            if (isNoResponders(e))
              finish(() =>
                reject(RemoteErrors.WorkerLost(worker, 'it no longer answers (its connection is gone)')),
              );
            else if (++missed >= 3)
              finish(() => reject(RemoteErrors.WorkerLost(worker, `${missed} pings unanswered`)));
          })
          .finally(() => (pinging = false));
      }, beat);
      result.then(
        (r) => finish(() => resolve(r)),
        (e: unknown) => finish(() => reject(e instanceof Error ? e : new Error(String(e)))),
      );
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      const s = await this.started;
      s.theta.close();
      s.roster.close();
    } catch {
      // Never connected: nothing to close.
    }
  }
}

/** What a task is, before the pool adds its id, θ's length, the batch layout and the attempt. */
type Filled = 'taskId' | 'session' | 'reply' | 'model' | 'thetaLength' | 'attempt' | keyof BatchLayout;
type Work = Omit<GradientTaskHead, Filled> | Omit<ProbeTaskHead, Filled>;

interface BatchLayout {
  inputShape: number[];
  targetShape: number[];
  inputKind: 'f32' | 'i32';
  inputLength: number;
  targetKind: 'f32' | 'i32';
  targetLength: number;
}

function layoutOf(b: Batch): BatchLayout {
  return {
    inputShape: b.inputShape,
    targetShape: b.targetShape,
    inputKind: arrayKind(b.inputs),
    inputLength: b.inputs.length,
    targetKind: arrayKind(b.targets),
    targetLength: b.targets.length,
  };
}
