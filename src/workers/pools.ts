/**
 * The two piscina pools and their typed, retrying front ends: gradient shards (many threads, θ read
 * zero copy from the shared buffer) and curvature probes (one thread by default, the GPU owner).
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import type { Batch } from '../data/batch.js';
import type { GpuPreference } from '../gpu/host/backend.js';
import type { ModelSpec } from '../nn/model.js';
import type { ProbeTask } from '../step/ports.js';
import { workerEntry } from './entry-file.js';
import { Errors } from './errors.js';
import {
  type FailureHook,
  type GpuFailureHook,
  type GradientHead,
  type GradientReplyHead,
  type GradientResponse,
  type GradientWire,
  type ProbeHead,
  type ProbeReply,
  type ProbeReplyHead,
  type ProbeResponse,
  type ProbeWire,
  type WorkerInit,
  decodeHead,
  encodeHead,
  serializeError,
} from './protocol.js';
import { withRetries } from './retry.js';
import { ShardSlots } from './shard-slots.js';

export interface PoolOptions {
  modelSpec: ModelSpec;
  paramsBuffer: SharedArrayBuffer;
  versionBuffer: SharedArrayBuffer;
  threads?: number;
  maxRetries?: number;
  modelModules?: string[];
  failOn?: FailureHook;
  onRetry?: (attempt: number, cause: Error) => void;
  /** Probe pool only: the backend its worker computes estimates on. */
  gpu?: GpuPreference;
  gpuFailOn?: GpuFailureHook;
}

function makePool(name: 'gradient-worker' | 'probe-worker', o: PoolOptions, threads: number): Piscina {
  const { filename, execArgv } = workerEntry(name);
  const workerData: WorkerInit = {
    modelSpec: o.modelSpec,
    layoutSize: o.paramsBuffer.byteLength / 4,
    paramsBuffer: o.paramsBuffer,
    versionBuffer: o.versionBuffer,
    ...(o.modelModules ? { modelModules: o.modelModules } : {}),
    ...(o.failOn ? { failOn: o.failOn } : {}),
    ...(o.gpu ? { gpu: o.gpu } : {}),
    ...(o.gpuFailOn ? { gpuFailOn: o.gpuFailOn } : {}),
  };
  // Threads stay up for the pool's life: the model is built once per thread.
  return new Piscina({
    filename,
    execArgv,
    workerData,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Infinity,
    // Nobody reads piscina's run/wait histograms; skip their bookkeeping on every task.
    recordTiming: false,
  });
}

export class GradientPool {
  readonly threads: number;
  private readonly size: number;
  private readonly pool: Piscina;
  private readonly maxRetries: number;
  private readonly slots: ShardSlots;

  constructor(private readonly options: PoolOptions) {
    this.threads = options.threads ?? os.availableParallelism();
    this.maxRetries = options.maxRetries ?? 2;
    this.pool = makePool('gradient-worker', options, this.threads);
    this.size = options.paramsBuffer.byteLength / 4;
    this.slots = new ShardSlots(this.size);
  }

  /**
   * One shard's gradient at parameter version `paramsVersion`. The shard is copied once into its
   * shared slot (every attempt reads it there) and the worker writes the gradient into the slot's
   * result part: `grad` is a view of it, valid until the next task of this shard index starts.
   */
  async gradient(
    step: number,
    shardIndex: number,
    shard: Batch,
    totalPredictions: number,
    paramsVersion: number,
  ): Promise<GradientResponse> {
    const slot = this.slots.acquire(shardIndex, shard);
    const { buffer, result, release, ...layout } = slot;
    try {
      return await withRetries(
        async (attempt) => {
          const head: GradientHead = {
            kind: 'gradient',
            paramsVersion,
            step,
            shardIndex,
            totalPredictions,
            attempt,
            inputShape: shard.inputShape,
            targetShape: shard.targetShape,
            ...layout,
          };
          const wire: GradientWire = { head: encodeHead(head), slot: buffer, result };
          const { gradLength, ...r } = decodeHead<GradientReplyHead>(await this.pool.run(wire));
          if (r.error || r.nonFinite) return { ...r, grad: new Float32Array(0) };
          if (gradLength === this.size) return { ...r, grad: new Float32Array(result, 0, gradLength) };
          // A malformed answer is treated like a failed attempt: retried, never reduced.
          const bad = Errors.BadResponse(`gradient of ${gradLength} values, want ${this.size}`);
          return { ...r, grad: new Float32Array(0), error: serializeError(bad) };
        },
        this.maxRetries,
        this.options.onRetry,
      );
    } finally {
      release();
    }
  }

  close(): Promise<void> {
    return this.pool.close({ force: true });
  }
}

export type { ProbeTask } from '../step/ports.js';

export class ProbePool {
  readonly threads: number;
  private readonly pool: Piscina;
  private readonly maxRetries: number;

  constructor(private readonly options: PoolOptions) {
    this.threads = options.threads ?? 1;
    this.maxRetries = options.maxRetries ?? 2;
    if (options.gpu && options.gpu !== 'cpu' && this.threads !== 1)
      throw new RangeError(
        `ProbePool: gpu "${options.gpu}" needs exactly one probe thread (one GPU device per process), got ${this.threads}`,
      );
    // Software WebGPU (Mesa over EGL) reads EGL_PLATFORM from the real environment, which a worker
    // thread cannot change (its process.env is a private copy): set it here, before the thread starts.
    if (options.gpu && options.gpu !== 'cpu' && !process.env.EGL_PLATFORM)
      process.env.EGL_PLATFORM = 'surfaceless';
    this.pool = makePool('probe-worker', options, this.threads);
  }

  /** One estimate on the private snapshot `task.params` (copied per attempt and transferred). */
  probe(task: ProbeTask): Promise<ProbeResponse> {
    return withRetries(
      async (attempt) => {
        const b = task.batch;
        const head: ProbeHead = {
          kind: 'probe',
          estimator: task.estimator,
          step: task.step,
          seed: task.seed,
          probes: task.probes,
          attempt,
          inputShape: b.inputShape,
          targetShape: b.targetShape,
        };
        // Copies per attempt: a transferred array is gone from this thread, and a retry needs it again.
        const wire: ProbeWire = {
          head: encodeHead(head),
          params: task.params.slice(),
          inputs: b.inputs.slice(),
          targets: b.targets.slice(),
        };
        const reply: ProbeReply = await this.pool.run(wire, {
          transferList: [wire.params.buffer, wire.inputs.buffer, wire.targets.buffer] as never,
        });
        const r: ProbeResponse = { ...decodeHead<ProbeReplyHead>(reply.head), diag: reply.diag };
        if (reply.grad) r.grad = reply.grad;
        if (reply.v && reply.hv) [r.v, r.hv] = [reply.v, reply.hv];
        return r;
      },
      this.maxRetries,
      this.options.onRetry,
    );
  }

  close(): Promise<void> {
    return this.pool.close({ force: true });
  }
}

export interface WorkerPoolsOptions {
  modelSpec: ModelSpec;
  /** Number of parameters of the model (sizes the shared buffer). */
  layoutSize: number;
  /** Gradient threads (default os.availableParallelism()). */
  workers?: number;
  /** Probe threads (default 1); 0 when no curvature is ever estimated. */
  probeWorkers?: number;
  maxRetries?: number;
  /** Module URLs every worker imports before building the model (user model kinds). */
  modelModules?: string[];
  injectFailures?: { gradient?: FailureHook; probe?: FailureHook; gpu?: GpuFailureHook };
  onRetry?: (attempt: number, cause: Error) => void;
  /**
   * Where the probe worker computes the estimates a device supports (default 'cpu'); other than 'cpu'
   * it needs exactly one probe thread, which holds the process's one GPU device.
   */
  gpu?: GpuPreference;
}

/**
 * The shared parameter buffer with the pools that read it. Starting a thread costs about a second (it
 * loads the model code), so a program training several runs of one model reuses one `WorkerPools`;
 * one pipeline at a time holds it (`acquire`), since the buffer holds that pipeline's θ.
 */
export class WorkerPools {
  readonly paramsBuffer: SharedArrayBuffer;
  readonly versionBuffer: SharedArrayBuffer;
  readonly gradients: GradientPool;
  readonly probes: ProbePool | null;
  private held = false;

  constructor(readonly options: WorkerPoolsOptions) {
    this.paramsBuffer = new SharedArrayBuffer(options.layoutSize * 4);
    this.versionBuffer = new SharedArrayBuffer(4);
    const shared = {
      modelSpec: options.modelSpec,
      paramsBuffer: this.paramsBuffer,
      versionBuffer: this.versionBuffer,
      ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
      ...(options.modelModules ? { modelModules: options.modelModules } : {}),
    };
    const f = options.injectFailures ?? {};
    this.gradients = new GradientPool({
      ...shared,
      ...(options.workers !== undefined ? { threads: options.workers } : {}),
      ...(f.gradient ? { failOn: f.gradient } : {}),
    });
    const probeThreads = options.probeWorkers ?? 1;
    this.probes =
      probeThreads > 0
        ? new ProbePool({
            ...shared,
            threads: probeThreads,
            ...(f.probe ? { failOn: f.probe } : {}),
            ...(options.gpu ? { gpu: options.gpu } : {}),
            ...(f.gpu ? { gpuFailOn: f.gpu } : {}),
          })
        : null;
  }

  acquire(): void {
    if (this.held) throw new Error('WorkerPools: already held by another pipeline; close that one first');
    this.held = true;
  }

  release(): void {
    this.held = false;
  }

  async close(): Promise<void> {
    await Promise.all([this.gradients.close(), this.probes?.close()]);
  }
}
