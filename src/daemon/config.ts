/**
 * The daemon config (config/daemon.json): plain JSON validated by the zod schema below. Every error names
 * the key, what was expected and what was given, and all problems are reported at once
 * (src/config/zod-errors.ts writes the messages). Objects are strict, so a typo is an unknown key and
 * never falls back to a default. `checkpointDir` is resolved against the working directory.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { OPTIMIZERS, OPTIMIZER_NAMES, optimizerEntry } from '../catalog/index.js';
import { curvatureProblems } from '../catalog/curvature-rules.js';
import { optimizerSchemaOf } from '../catalog/schema.js';
import { natsIngestSchema } from './nats-ingest-config.js';
import { curvatureSchema, int } from '../config/schemas.js';
import { type ConfigProblem, checkConfig, crossCheck, expecting, problem } from '../config/zod-errors.js';
import type { ModelSpec } from '../nn/model.js';
import { DEFAULT_DIVERGENCE_STEPS, DEFAULT_MAX_FEATURE_MAGNITUDE } from './engine.js';
import { DaemonConfigError } from './errors.js';

/** Every optimizer of the catalog (src/catalog) can train in the daemon. */
export const DAEMON_OPTIMIZERS: readonly string[] = OPTIMIZER_NAMES;
export type DaemonOptimizerName = string;

/** Numeric hyperparameters each optimizer accepts (all may be changed at run time), from the catalog. */
export const OPTIMIZER_HYPERPARAMS: Record<string, readonly string[]> = Object.fromEntries(
  OPTIMIZERS.map((e) => [
    e.name,
    ['lr', ...Object.entries(e.hyperparameters).flatMap(([k, h]) => (h.type === 'number' ? [k] : []))],
  ]),
);

const optimizerSchema = optimizerSchemaOf(OPTIMIZERS);

/**
 * Checks an optimizer's settings (`{name, lr, …}`) against the schema the config is validated with, so a
 * value set at run time (POST /v1/hyperparams) meets the same bounds as one in daemon.json. Throws an
 * Error naming each bad hyperparameter.
 */
export function checkOptimizerSettings(settings: Record<string, unknown>): void {
  const r = checkConfig(optimizerSchema, settings);
  if (!r.ok)
    throw new Error(
      r.problems
        .map((p) =>
          p.kind === 'unknown-key'
            ? `unknown hyperparameter "${p.key}"`
            : `hyperparameter "${p.key || '(root)'}" ${p.detail}`,
        )
        .join('; '),
    );
}

/** Kept as a plain interface: the engine treats the hyperparameters generically, by name. */
export interface DaemonOptimizerConfig {
  name: DaemonOptimizerName;
  lr: number;
  [hyper: string]: number | string | boolean;
}

const port = (dflt: number) => expecting(int(0, 65535), 'an integer in [0, 65535]').default(dflt);
const count = (min: number, max: number, dflt: number) =>
  expecting(int(min, max), `an integer in [${min}, ${max}]`).default(dflt);

export const DAEMON_ENGINES = ['trainer', 'pipeline'] as const;
export type DaemonEngineName = (typeof DAEMON_ENGINES)[number];

const fields = z.strictObject({
  model: expecting(
    z.custom<ModelSpec>((v) => isObject(v) && typeof v.kind === 'string'),
    'a model spec object like {"kind": "mlp", "sizes": [8, 6, 3]}',
  ),
  optimizer: expecting(optimizerSchema, 'an object like {"name": "sophiaG", "lr": 0.01}'),
  /** Curvature refreshes (default: the optimizer's example schedule when it needs one, e.g. GNB every 10 steps for sophiaG). */
  curvature: curvatureSchema.optional(),
  host: expecting(z.string().min(1), 'a non-empty string').default('127.0.0.1'),
  /** HTTP port; 0 picks a free one (printed on stdout). */
  port: port(8717),
  /** Streaming TCP port; 0 picks a free one; null disables the socket endpoint. */
  socketPort: expecting(int(0, 65535), 'an integer in [0, 65535] or null (no socket endpoint)')
    .nullable()
    .default(8718),
  /** Bearer token required on control endpoints; absent = open. */
  token: expecting(z.string().min(8), 'a string of at least 8 characters').optional(),
  checkpointDir: expecting(z.string().min(1), 'a non-empty string (a directory path)').transform((p) =>
    resolve(p),
  ),
  /** Checkpoint every this many steps (0 = only on demand and at shutdown). */
  checkpointEvery: count(0, Number.MAX_SAFE_INTEGER, 100),
  keepLast: count(1, 10_000, 5),
  /** Accepted-but-unapplied batches held at most. */
  queueLimit: count(1, 1_000_000, 256),
  /** Largest socket frame payload in bytes. */
  maxFrameBytes: count(16, 1 << 30, 1 << 20),
  /** Largest HTTP request body in bytes. */
  maxBodyBytes: count(16, 1 << 30, 1 << 20),
  /**
   * Socket connections held at most; one more is answered `too_many_connections` and closed. With
   * maxFrameBytes this bounds the memory partial frames can hold (64 × 1 MiB by default).
   */
  maxConnections: count(1, 1_000_000, 64),
  /**
   * A socket connection from which nothing arrives for this long (while the daemon is not the one holding
   * it back: a full queue or unread acks do not count) is answered `idle_timeout` and closed; 0 = never.
   */
  socketIdleTimeoutMs: count(0, 86_400_000, 60_000),
  /** HTTP connections held at most (excess ones are dropped at accept and counted). */
  httpMaxConnections: count(1, 1_000_000, 256),
  /** The whole HTTP request (headers and body) must arrive within this (408 otherwise); 0 = never. */
  httpRequestTimeoutMs: count(0, 86_400_000, 30_000),
  /** An HTTP connection idle for this long is closed; 0 = never. */
  httpIdleTimeoutMs: count(0, 86_400_000, 60_000),
  seed: count(0, 2 ** 32 - 1, 0),
  /**
   * A batch with a feature of larger magnitude is refused (`feature_range`) before it is acknowledged:
   * one valid batch near the float32 limit can push θ where no later step is finite. 0 = no bound.
   */
  maxFeatureMagnitude: expecting(z.number().finite().min(0), 'a finite number >= 0 (0 = no bound)').default(
    DEFAULT_MAX_FEATURE_MAGNITUDE,
  ),
  /**
   * This many consecutive skipped steps (non-finite loss, gradient, update or state on validated
   * batches) mean training diverged: it stops, the queue is kept, ingest answers 503 `diverged`. 0 = never.
   */
  divergenceSteps: count(0, 1_000_000, DEFAULT_DIVERGENCE_STEPS),
  /**
   * What trains: "pipeline" (default) streams the queue through createPipeline (gradient shards on worker
   * threads, probes on their own worker); "trainer" runs each step in the daemon's thread. The default is
   * `hessflow train`'s (runTraining), so a job trains the same way (the pipeline's step is the ordered sum
   * over `shards` shards) in the CLI and in the daemon.
   */
  engine: expecting(z.enum(DAEMON_ENGINES), 'one of "trainer", "pipeline"').default('pipeline'),
  /** engine "pipeline": gradient worker threads (default: the machine's available parallelism). */
  workers: expecting(int(1, 1024), 'an integer in [1, 1024]').optional(),
  /** engine "pipeline": fixed gradient shards per batch (default 4); results never depend on workers. */
  shards: expecting(int(1, 1024), 'an integer in [1, 1024]').optional(),
  /** Further ingest beside HTTP and TCP: `{"nats": {servers, stream, ...}}` (nats-ingest-config.ts). */
  ingest: z.strictObject({ nats: natsIngestSchema.optional() }).optional(),
});

// What the optimizer needs from the curvature schedule (its catalog entry; a required schedule left out
// gets the entry's example, e.g. GNB every 10 steps for sophiaG, in validateDaemonConfig).
const withCurvature = crossCheck(fields, ['optimizer', 'curvature'], (c, ctx) => {
  const entry = optimizerEntry((c.optimizer as { name: string }).name);
  if (c.curvature === undefined && entry.curvature.example) return;
  for (const [key, message] of curvatureProblems(entry, c.curvature))
    problem(ctx, key === null ? ['curvature'] : ['curvature', key], message);
});

// workers and shards configure the pipeline's pools: given to the trainer engine they would be ignored.
const schema = crossCheck(withCurvature, ['engine', 'workers', 'shards'], (c, ctx) => {
  if (c.engine === 'pipeline') return;
  for (const k of ['workers', 'shards'] as const)
    if (c[k] !== undefined)
      problem(ctx, [k], `applies to engine "pipeline" only, but engine is "${c.engine}"`);
});

export type DaemonConfig = Omit<z.output<typeof schema>, 'optimizer'> & { optimizer: DaemonOptimizerConfig };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function line(p: ConfigProblem): string {
  if (p.kind === 'unknown-key')
    return `daemon config: unknown key "${p.key}" (allowed: ${p.allowed.join(', ')})`;
  return `daemon config: "${p.key || '(root)'}" ${p.detail}`;
}

/** Validates a parsed config object and fills defaults. Throws a DaemonConfigError naming every bad key. */
export function validateDaemonConfig(raw: unknown): DaemonConfig {
  const r = checkConfig(schema, raw);
  if (!r.ok) throw new DaemonConfigError(r.problems.map(line).join('\n'));
  const config = r.value as DaemonConfig;
  const example = optimizerEntry(config.optimizer.name).curvature.example;
  if (config.curvature === undefined && example) config.curvature = { ...example };
  return config;
}

/** Reads and validates a config file. */
export function loadDaemonConfig(path: string): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new DaemonConfigError(`daemon config: cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DaemonConfigError(`daemon config: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return validateDaemonConfig(raw);
}
