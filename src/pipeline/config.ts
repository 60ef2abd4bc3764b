/**
 * The pipeline's configuration and its validation, on a zod schema: every problem names the key, what was
 * expected and what was given, and all are reported at once (src/config/zod-errors.ts writes the
 * messages). Live objects (the optimizer, a Float32Array, warm pools) are checked by `z.custom` /
 * `instanceof` next to the plain values. Unknown keys are errors, so a typo never silently falls back to
 * a default. The config types stay hand-written: they are generic in the optimizer's state, which a
 * schema cannot express.
 */
import os from 'node:os';
import { z } from 'zod';
import { curvatureSchema, gpuSchema, int } from '../config/schemas.js';
import { type RemoteWorkersConfig, workersSchema } from '../config/remote-workers.js';
import { type ConfigProblem, checkConfig, crossCheck, expecting, problem } from '../config/zod-errors.js';
import type { BatchSpec } from '../data/validate.js';
import type { GpuPreference } from '../gpu/host/backend.js';
import type { ModelSpec } from '../nn/model.js';
import type { GradientTransformation } from '../optim/transform.js';
import type { PipelineCheckpoint } from './checkpoint.js';
import {
  type CurvatureConfig,
  type ResolvedCurvature,
  resolveCurvature,
} from '../step/curvature-schedule.js';
import { WorkerPools } from '../workers/pools.js';
import type { FailureHook, GpuFailureHook } from '../workers/protocol.js';

export interface PipelineConfig<S = unknown> {
  /** Serializable model spec: every worker rebuilds the model from it. */
  model: ModelSpec;
  /**
   * URLs of modules that register user model kinds (`registerModel`); each worker imports them before
   * building the model. Import them in the main thread too: that registers the kind there.
   */
  modelModules?: string[];
  optimizer: GradientTransformation<S>;
  seed?: number;
  /** Fixed shard count per batch (default 4); results never depend on `workers`. */
  shards?: number;
  /**
   * Gradient worker threads (default os.availableParallelism()), or `{ local, remote }`: `local` threads
   * (default 0) and/or remote worker processes reached over NATS (`hessflow worker`). Shards go to a free
   * local thread first, the rest to the remote workers; probes go to the local probe thread when there are
   * local threads, else to the remote workers. Results never depend on where a shard was computed.
   */
  workers?: number | { local?: number; remote?: RemoteWorkersConfig };
  /** Probe worker threads (default 1). */
  probeWorkers?: number;
  /** Retries of a failed worker task before the stream errors (default 2). */
  maxRetries?: number;
  /** Batches between the source and the coordinator at most (default 2). */
  maxInFlight?: number;
  /** A push source may run at most this many batches ahead before the stream errors (default 256). */
  maxQueued?: number;
  batchSpec?: BatchSpec;
  curvature?: CurvatureConfig;
  /** 'deterministic' (default): estimates applied at exactly launch + staleness. 'async': when they arrive. */
  mode?: 'deterministic' | 'async';
  /** async mode: the most steps an estimate may wait (default curvature.every). */
  maxStaleness?: number;
  initialParams?: Float32Array;
  /**
   * Continue a run from `Pipeline.checkpoint()` (θ, optimizer state, step and pending estimates) instead
   * of starting at step 0; give it a source that starts at the checkpoint's step. Not with initialParams.
   */
  resumeFrom?: PipelineCheckpoint<S>;
  /**
   * Where the probe worker computes curvature estimates (default 'cpu'). Other than 'cpu', the probes
   * the device supports (GNB and Hutchinson on a tanh MLP) run on it; everything else, and every
   * probe after a device failure, on the CPU. Needs one probe worker. Steps applying an estimate
   * report `probeBackend`.
   */
  gpu?: GpuPreference;
  /** Where the probe worker's GPU lines go (backend chosen and why, fallback); default console.error. */
  log?: (line: string) => void;
  /** Tests only: make workers fail on purpose (`gpu`: the probe worker's device computation). */
  injectFailures?: { gradient?: FailureHook; probe?: FailureHook; gpu?: GpuFailureHook };
  /** Warm pools to use instead of starting new ones (then `workers`, `probeWorkers`, `maxRetries`,
   * `gpu` and `injectFailures` are the pools'); the pipeline holds them until close() and does not
   * close them. */
  pools?: WorkerPools;
}

export interface ResolvedPipelineConfig<S> {
  model: ModelSpec;
  modelModules: string[];
  optimizer: GradientTransformation<S>;
  seed: number;
  shards: number;
  /** Local gradient threads (0: remote workers only). */
  workers: number;
  remote: RemoteWorkersConfig | null;
  probeWorkers: number;
  maxRetries: number;
  maxInFlight: number;
  maxQueued: number;
  batchSpec?: BatchSpec;
  curvature: ResolvedCurvature | null;
  mode: 'deterministic' | 'async';
  maxStaleness: number;
  initialParams?: Float32Array;
  resumeFrom?: PipelineCheckpoint<S>;
  gpu: GpuPreference;
  log: (line: string) => void;
  injectFailures: { gradient?: FailureHook; probe?: FailureHook; gpu?: GpuFailureHook };
  pools?: WorkerPools;
}

export class PipelineConfigError extends Error {
  override readonly name = 'PipelineConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid pipeline config:\n  - ${problems.join('\n  - ')}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const failureHook = z.strictObject({
  shardIndex: int(0).optional(),
  step: int(0).optional(),
  times: int(0),
  mode: z.enum(['throw', 'exit']),
});

const gpuFailureHook = z.strictObject({ step: int(0).optional(), mode: z.enum(['throw', 'lose']) });

/** Keys the pools fix when warm pools are passed in. */
const FIXED_BY_POOLS = [
  'workers',
  'probeWorkers',
  'maxRetries',
  'injectFailures',
  'modelModules',
  'gpu',
] as const;

const schema = crossCheck(
  crossCheck(
    z.strictObject({
      model: expecting(
        z.custom<ModelSpec>((v) => isObject(v) && typeof v.kind === 'string'),
        'a model spec object with a string "kind"',
      ),
      modelModules: expecting(z.array(z.string()), 'an array of module URLs').optional(),
      optimizer: expecting(
        z.custom<GradientTransformation<unknown>>(
          (v) => isObject(v) && typeof v.init === 'function' && typeof v.update === 'function',
        ),
        'a GradientTransformation {init, update}',
      ),
      seed: int(0).optional(),
      shards: int(1).optional(),
      workers: workersSchema.optional(),
      probeWorkers: int(1).optional(),
      maxRetries: int(0).optional(),
      maxInFlight: int(1).optional(),
      maxQueued: int(1).optional(),
      batchSpec: expecting(z.custom<BatchSpec>(isObject), 'a BatchSpec object').optional(),
      curvature: curvatureSchema.optional(),
      mode: z.enum(['deterministic', 'async']).optional(),
      maxStaleness: int(0).optional(),
      initialParams: expecting(z.instanceof(Float32Array), 'a Float32Array').optional(),
      // Its fields are checked by createPipeline, which knows the model's size (checkpoint.ts).
      resumeFrom: expecting(
        z.custom<PipelineCheckpoint<unknown>>(isObject),
        'a checkpoint object from Pipeline.checkpoint()',
      ).optional(),
      gpu: gpuSchema.optional(),
      log: expecting(
        z.custom<(line: string) => void>((v) => typeof v === 'function'),
        'a function (line: string) => void',
      ).optional(),
      injectFailures: z
        .strictObject({
          gradient: failureHook.optional(),
          probe: failureHook.optional(),
          gpu: gpuFailureHook.optional(),
        })
        .optional(),
      pools: expecting(z.instanceof(WorkerPools), 'a WorkerPools').optional(),
    }),
    ['mode', 'maxStaleness', 'gpu', 'probeWorkers', 'workers'],
    (c, ctx) => {
      const w = c.workers;
      if (typeof w === 'object' && !w.remote && !w.local)
        problem(ctx, ['workers'], 'needs local threads (local >= 1) or remote workers (remote: { nats, … })');
      if (c.maxStaleness !== undefined && (c.mode ?? 'deterministic') === 'deterministic')
        problem(
          ctx,
          ['maxStaleness'],
          'applies to mode "async"; deterministic mode uses curvature.staleness',
        );
      if ((c.gpu ?? 'cpu') !== 'cpu' && (c.probeWorkers ?? 1) !== 1)
        problem(
          ctx,
          ['probeWorkers'],
          `must be 1 with gpu "${c.gpu}" (the probe worker holds the process's one GPU device), got ${c.probeWorkers}`,
        );
    },
  ),
  ['pools'],
  (c, ctx) => {
    // Only the presence of these keys matters, valid or not.
    const given = ctx.value as Record<string, unknown>;
    if (given.resumeFrom !== undefined && given.initialParams !== undefined)
      problem(ctx, ['initialParams'], 'cannot be set together with resumeFrom (the checkpoint holds θ)');
    if (c.pools === undefined) return;
    for (const k of FIXED_BY_POOLS)
      if (given[k] !== undefined) problem(ctx, [k], 'cannot be set together with pools (the pools fix it)');
  },
);

/** `shards must be >= 1, got 0`; the config as a whole is `config`. */
function line(p: ConfigProblem): string {
  if (p.kind === 'unknown-key') return `unknown key "${p.key}"; known keys: ${p.allowed.join(', ')}`;
  return `${p.key || 'config'} ${p.detail}`;
}

export function resolvePipelineConfig<S>(input: PipelineConfig<S>): ResolvedPipelineConfig<S> {
  const r = checkConfig(schema, input);
  if (!r.ok) throw new PipelineConfigError(r.problems.map(line));
  const c = r.value;
  // The schema has checked the curvature keys, so resolving (filling its defaults) cannot throw.
  const curvature = c.curvature ? resolveCurvature(c.curvature as CurvatureConfig) : null;
  return {
    model: c.model,
    modelModules: c.modelModules ?? [],
    optimizer: c.optimizer as GradientTransformation<S>,
    seed: c.seed ?? 0,
    shards: c.shards ?? 4,
    workers:
      typeof c.workers === 'object' ? (c.workers.local ?? 0) : (c.workers ?? os.availableParallelism()),
    remote: typeof c.workers === 'object' ? (c.workers.remote ?? null) : null,
    probeWorkers: c.probeWorkers ?? 1,
    maxRetries: c.maxRetries ?? 2,
    maxInFlight: c.maxInFlight ?? 2,
    maxQueued: c.maxQueued ?? 256,
    ...(c.batchSpec ? { batchSpec: c.batchSpec } : {}),
    curvature,
    mode: c.mode ?? 'deterministic',
    maxStaleness: c.maxStaleness ?? curvature?.every ?? 10,
    ...(c.initialParams ? { initialParams: c.initialParams } : {}),
    ...(c.resumeFrom ? { resumeFrom: c.resumeFrom as PipelineCheckpoint<S> } : {}),
    gpu: c.gpu ?? 'cpu',
    log: c.log ?? ((line: string) => console.error(line)),
    injectFailures: c.injectFailures ?? {},
    ...(c.pools ? { pools: c.pools } : {}),
  };
}
