/**
 * The pipeline's configuration and its validation. Hand-written rather than a schema library: the
 * config holds live objects (the optimizer, a Float32Array) next to plain values, and every error names
 * the key, what was expected and what was given. Unknown keys are errors, so a typo never silently
 * falls back to a default.
 */
import os from 'node:os';
import type { BatchSpec } from '../data/validate.js';
import type { ModelSpec } from '../nn/model.js';
import type { GradientTransformation } from '../optim/transform.js';
import {
  type CurvatureConfig,
  type ResolvedCurvature,
  resolveCurvature,
} from '../train/curvature-schedule.js';
import { WorkerPools } from '../workers/pools.js';
import type { FailureHook } from '../workers/protocol.js';

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
  /** Gradient worker threads (default os.availableParallelism()). */
  workers?: number;
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
  /** Tests only: make workers fail on purpose. */
  injectFailures?: { gradient?: FailureHook; probe?: FailureHook };
  /** Warm pools to use instead of starting new ones (then `workers`, `probeWorkers`, `maxRetries` and
   * `injectFailures` are the pools'); the pipeline holds them until close() and does not close them. */
  pools?: WorkerPools;
}

export interface ResolvedPipelineConfig<S> {
  model: ModelSpec;
  modelModules: string[];
  optimizer: GradientTransformation<S>;
  seed: number;
  shards: number;
  workers: number;
  probeWorkers: number;
  maxRetries: number;
  maxInFlight: number;
  maxQueued: number;
  batchSpec?: BatchSpec;
  curvature: ResolvedCurvature | null;
  mode: 'deterministic' | 'async';
  maxStaleness: number;
  initialParams?: Float32Array;
  injectFailures: { gradient?: FailureHook; probe?: FailureHook };
  pools?: WorkerPools;
}

export class PipelineConfigError extends Error {
  override readonly name = 'PipelineConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid pipeline config:\n  - ${problems.join('\n  - ')}`);
  }
}

const KEYS = [
  'model',
  'modelModules',
  'optimizer',
  'seed',
  'shards',
  'workers',
  'probeWorkers',
  'maxRetries',
  'maxInFlight',
  'maxQueued',
  'batchSpec',
  'curvature',
  'mode',
  'maxStaleness',
  'initialParams',
  'injectFailures',
  'pools',
] as const;
const CURVATURE_KEYS = ['estimator', 'every', 'first', 'staleness', 'probes'];

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

export function resolvePipelineConfig<S>(input: PipelineConfig<S>): ResolvedPipelineConfig<S> {
  const problems: string[] = [];
  if (input === null || typeof input !== 'object' || Array.isArray(input))
    throw new PipelineConfigError([`config must be an object, got ${describe(input)}`]);
  const c = input as unknown as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    if (!(KEYS as readonly string[]).includes(k))
      problems.push(`unknown key "${k}"; known keys: ${KEYS.join(', ')}`);
  }
  const int = (key: string, dflt: number, min: number): number => {
    const v = c[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v))
      problems.push(`${key} must be an integer, got ${describe(v)}`);
    else if (v < min) problems.push(`${key} must be >= ${min}, got ${v}`);
    return v as number;
  };
  const m = c.model as { kind?: unknown } | undefined;
  if (m === null || typeof m !== 'object' || typeof m.kind !== 'string')
    problems.push(`model must be a model spec object with a string "kind", got ${describe(m)}`);
  const modules = c.modelModules ?? [];
  if (!Array.isArray(modules) || modules.some((u) => typeof u !== 'string'))
    problems.push(`modelModules must be an array of module URLs, got ${describe(modules)}`);
  const opt = c.optimizer as Partial<GradientTransformation<S>> | undefined;
  if (!opt || typeof opt.init !== 'function' || typeof opt.update !== 'function')
    problems.push(`optimizer must be a GradientTransformation {init, update}, got ${describe(opt)}`);
  const seed = int('seed', 0, 0);
  const shards = int('shards', 4, 1);
  const workers = int('workers', os.availableParallelism(), 1);
  const probeWorkers = int('probeWorkers', 1, 1);
  const maxRetries = int('maxRetries', 2, 0);
  const maxInFlight = int('maxInFlight', 2, 1);
  const maxQueued = int('maxQueued', 256, 1);
  const mode = c.mode ?? 'deterministic';
  if (mode !== 'deterministic' && mode !== 'async')
    problems.push(`mode must be "deterministic" or "async", got ${describe(mode)}`);
  let curvature: ResolvedCurvature | null = null;
  if (c.curvature !== undefined) {
    const cv = c.curvature as Record<string, unknown>;
    if (cv === null || typeof cv !== 'object')
      problems.push(`curvature must be an object, got ${describe(cv)}`);
    else {
      for (const k of Object.keys(cv))
        if (!CURVATURE_KEYS.includes(k))
          problems.push(`unknown key "curvature.${k}"; known: ${CURVATURE_KEYS.join(', ')}`);
      try {
        curvature = resolveCurvature(cv as unknown as CurvatureConfig);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
  }
  const maxStaleness = int('maxStaleness', curvature?.every ?? 10, 0);
  if (c.maxStaleness !== undefined && mode === 'deterministic')
    problems.push('maxStaleness applies to mode "async"; deterministic mode uses curvature.staleness');
  if (c.initialParams !== undefined && !(c.initialParams instanceof Float32Array))
    problems.push(`initialParams must be a Float32Array, got ${describe(c.initialParams)}`);
  if (c.batchSpec !== undefined && (c.batchSpec === null || typeof c.batchSpec !== 'object'))
    problems.push(`batchSpec must be an object, got ${describe(c.batchSpec)}`);
  if (c.pools !== undefined) {
    if (!(c.pools instanceof WorkerPools))
      problems.push(`pools must be a WorkerPools, got ${describe(c.pools)}`);
    for (const k of ['workers', 'probeWorkers', 'maxRetries', 'injectFailures', 'modelModules'])
      if (c[k] !== undefined) problems.push(`${k} cannot be set together with pools (the pools fix it)`);
  }
  if (problems.length > 0) throw new PipelineConfigError(problems);
  return {
    model: c.model as ModelSpec,
    modelModules: modules as string[],
    optimizer: opt as GradientTransformation<S>,
    seed,
    shards,
    workers,
    probeWorkers,
    maxRetries,
    maxInFlight,
    maxQueued,
    ...(c.batchSpec ? { batchSpec: c.batchSpec as BatchSpec } : {}),
    curvature,
    mode: mode as 'deterministic' | 'async',
    maxStaleness,
    ...(c.initialParams ? { initialParams: c.initialParams as Float32Array } : {}),
    injectFailures: (c.injectFailures as ResolvedPipelineConfig<S>['injectFailures']) ?? {},
    ...(c.pools ? { pools: c.pools as WorkerPools } : {}),
  };
}
