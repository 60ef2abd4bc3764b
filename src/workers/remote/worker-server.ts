/**
 * A remote worker: says hello on the run's subjects every second and serves the shard-gradient and
 * curvature-probe tasks coordinators send it, computing them exactly as the local pools do, because it *is* the local pools: a `WorkerPools`
 * of this process (gradient-worker.ts and probe-worker.ts on piscina threads) fed from NATS. θ of each
 * version is fetched once (ThetaCache) and published into the pools' shared buffer with its version,
 * which the gradient threads check as they do in a single-process pipeline.
 */
import os from 'node:os';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Batch } from '../../data/batch.js';
import { WorkerPools } from '../pools.js';
import { serializeError } from '../protocol.js';
import { arrayOf, frame, unframe } from './frame.js';
import type { GradientTaskHead, Hello, ProbeTaskHead, ResultHead, TaskAck, TaskHead } from './messages.js';
import { chunkBytesFor, publishResult } from './result-chunks.js';
import { HELLO_MS } from './roster.js';
import { runSubjects, subjectToken } from './subjects.js';
import { ThetaCache } from './theta-client.js';

export interface RemoteWorkerOptions {
  nc: NatsConnection;
  run: string;
  /** Gradient threads (default os.availableParallelism()); one probe thread besides. */
  threads?: number;
  /** This worker's id in acks, θ fetches and the alive subject (default host-pid-random). */
  id?: string;
  /** θ chunk request timeout (default 10 s). */
  fetchTimeoutMs?: number;
  log?: (line: string) => void;
}

export class RemoteWorker {
  readonly id: string;
  /** Tasks answered (results published), by kind. */
  readonly served = { gradient: 0, probe: 0 };
  private readonly subs: Subscription[] = [];
  private readonly theta: ThetaCache;
  private pools: { key: string; pools: WorkerPools; inBuffer: string } | null = null;
  private readonly chunkBytes: number;
  private closed = false;
  private readonly hello: NodeJS.Timeout;

  constructor(private readonly o: RemoteWorkerOptions) {
    const s = runSubjects(o.run);
    this.id = subjectToken(
      o.id ?? `${os.hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    );
    this.chunkBytes = chunkBytesFor(o.nc.info?.max_payload);
    this.theta = new ThetaCache(o.nc, s.theta, this.id, o.fetchTimeoutMs ?? 10_000);
    this.subs.push(
      o.nc.subscribe(s.alive(this.id), { callback: (_e, m) => void m.respond() }),
      o.nc.subscribe(s.tasks(this.id), { callback: (_e, m) => this.accept(m) }),
    );
    // Coordinators pick workers from their hellos: every second, and at once when one asks.
    const threads = o.threads ?? os.availableParallelism();
    const hello = frame({ worker: this.id, threads } satisfies Hello);
    const sayHello = () => o.nc.publish(s.hello, hello);
    this.subs.push(o.nc.subscribe(s.roll, { callback: sayHello }));
    this.hello = setInterval(sayHello, HELLO_MS);
    sayHello();
  }

  private accept(msg: Msg): void {
    if (this.closed) return;
    let task: { head: TaskHead; body: Uint8Array };
    try {
      task = unframe<TaskHead>(msg.data);
    } catch (e) {
      this.o.log?.(`worker ${this.id}: dropped a malformed task (${(e as Error).message})`);
      return;
    }
    msg.respond(frame({ worker: this.id } satisfies TaskAck));
    // The inputs leave the message's buffer now: it belongs to the client.
    void this.serve(task.head, task.body.slice());
  }

  private async serve(head: TaskHead, body: Uint8Array): Promise<void> {
    const base = { taskId: head.taskId, worker: this.id, version: head.version };
    let result: ResultHead;
    let arrays: Float32Array[] = [];
    try {
      const batch = batchOf(head, body);
      const pools = this.poolsFor(head);
      const theta = await this.theta.get(head.session, head.version, head.thetaLength);
      if (head.kind === 'gradient') [result, arrays] = await this.gradient(pools, head, theta, batch);
      else [result, arrays] = await this.probe(pools, head, theta, batch);
    } catch (e) {
      result = { ...base, nonFinite: false, error: serializeError(e), arrays: [] };
    }
    if (this.closed) return;
    publishResult(this.o.nc, head.reply, result, arrays, this.chunkBytes);
    this.served[head.kind]++;
  }

  private async gradient(
    pools: WorkerPools,
    head: GradientTaskHead,
    theta: Float32Array,
    shard: Batch,
  ): Promise<[ResultHead, Float32Array[]]> {
    // θ of the task's version into the threads' shared buffer, then its version: the threads refuse
    // a task whose version is not the one published (a late duplicate of an older step).
    // (A fresh buffer says version 0 but holds zeros: which version it holds is tracked here.)
    const holds = `${head.session}:${head.version}`;
    if (this.pools?.inBuffer !== holds) {
      new Float32Array(pools.paramsBuffer).set(theta);
      Atomics.store(new Int32Array(pools.versionBuffer), 0, head.version);
      this.pools!.inBuffer = holds;
    }
    const r = await pools.gradients.gradient(
      head.step,
      head.shardIndex,
      shard,
      head.totalPredictions,
      head.version,
    );
    const base = { taskId: head.taskId, worker: this.id, version: r.paramsVersion };
    if (r.error || r.nonFinite)
      return [{ ...base, loss: r.lossSum, nonFinite: r.nonFinite, error: r.error, arrays: [] }, []];
    const arrays = [{ name: 'grad' as const, length: r.grad.length }];
    return [{ ...base, loss: r.lossSum, nonFinite: false, error: null, arrays }, [r.grad]];
  }

  private async probe(
    pools: WorkerPools,
    head: ProbeTaskHead,
    theta: Float32Array,
    batch: Batch,
  ): Promise<[ResultHead, Float32Array[]]> {
    if (!pools.probes) throw new Error('remote worker: no probe thread');
    const r = await pools.probes.probe({
      estimator: head.estimator,
      step: head.step,
      seed: head.seed,
      probes: head.probes,
      params: theta,
      batch,
    });
    const out: [ResultHead['arrays'][number]['name'], Float32Array | undefined][] = [
      ['diag', r.diag],
      ['grad', r.grad],
      ['v', r.v],
      ['hv', r.hv],
    ];
    const present = out.filter((a): a is [(typeof a)[0], Float32Array] => a[1] !== undefined);
    const result: ResultHead = {
      taskId: head.taskId,
      worker: this.id,
      version: head.version,
      ...(r.loss !== undefined ? { loss: r.loss } : {}),
      nonFinite: r.nonFinite,
      error: r.error,
      arrays: present.map(([name, a]) => ({ name, length: a.length })),
      ...(r.backend ? { backend: r.backend } : {}),
      ...(r.notes ? { notes: r.notes } : {}),
      ...(r.seconds !== undefined ? { seconds: r.seconds } : {}),
    };
    return [result, present.map(([, a]) => a)];
  }

  /** This process's pools for the task's model: built on the first task of a model, kept after it. */
  private poolsFor(head: TaskHead): WorkerPools {
    const key = `${JSON.stringify(head.model)}|${head.thetaLength}`;
    if (this.pools?.key === key) return this.pools.pools;
    if (this.pools) void this.pools.pools.close();
    const pools = new WorkerPools({
      modelSpec: head.model,
      layoutSize: head.thetaLength,
      workers: this.o.threads ?? os.availableParallelism(),
      probeWorkers: 1,
      // The coordinator retries (on another worker, maybe): a failure goes back to it at once.
      maxRetries: 0,
    });
    this.pools = { key, pools, inBuffer: '' };
    this.o.log?.(
      `worker ${this.id}: started ${pools.gradients.threads} gradient threads for ${head.model.kind}`,
    );
    return pools;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.hello);
    for (const s of this.subs) s.unsubscribe();
    await this.pools?.pools.close();
  }
}

function batchOf(h: TaskHead, body: Uint8Array): Batch {
  const n = h.inputLength * 4;
  if (body.length !== n + h.targetLength * 4)
    throw new RangeError(`task body of ${body.length} bytes, its head describes ${n + h.targetLength * 4}`);
  return {
    inputs: arrayOf(h.inputKind, body.subarray(0, n)),
    inputShape: h.inputShape,
    targets: arrayOf(h.targetKind, body.subarray(n)),
    targetShape: h.targetShape,
  };
}
