/**
 * The daemon config (config/daemon.json): plain JSON validated by hand, so every error names the key, what
 * was expected and what was given. Unknown keys are errors, so a typo never falls back to a default.
 * `checkpointDir` is resolved against the working directory.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ModelSpec } from '../nn/model.js';
import type { CurvatureConfig } from '../train/curvature-schedule.js';
import { DaemonConfigError } from './errors.js';

export const DAEMON_OPTIMIZERS = ['sophiaG', 'adamw', 'sgd'] as const;
export type DaemonOptimizerName = (typeof DAEMON_OPTIMIZERS)[number];

/** Numeric hyperparameters each optimizer accepts (all may be changed at run time). */
export const OPTIMIZER_HYPERPARAMS: Record<DaemonOptimizerName, readonly string[]> = {
  sophiaG: ['lr', 'b1', 'b2', 'rho', 'weightDecay'],
  adamw: ['lr', 'b1', 'b2', 'eps', 'weightDecay'],
  sgd: ['lr', 'momentum', 'weightDecay'],
};

export interface DaemonOptimizerConfig {
  name: DaemonOptimizerName;
  lr: number;
  [hyper: string]: number | string;
}

export interface DaemonConfig {
  model: ModelSpec;
  optimizer: DaemonOptimizerConfig;
  /** Curvature refreshes (default for sophiaG: GNB every 10 steps; none for the others). */
  curvature?: CurvatureConfig;
  host: string;
  /** HTTP port; 0 picks a free one (printed on stdout). */
  port: number;
  /** Streaming TCP port; 0 picks a free one; null disables the socket endpoint. */
  socketPort: number | null;
  /** Bearer token required on control endpoints; absent = open. */
  token?: string;
  checkpointDir: string;
  /** Checkpoint every this many steps (0 = only on demand and at shutdown). */
  checkpointEvery: number;
  keepLast: number;
  /** Accepted-but-unapplied batches held at most. */
  queueLimit: number;
  /** Largest socket frame payload in bytes. */
  maxFrameBytes: number;
  /** Largest HTTP request body in bytes. */
  maxBodyBytes: number;
  seed: number;
}

const DEFAULTS = {
  host: '127.0.0.1',
  port: 8717,
  socketPort: 8718,
  checkpointEvery: 100,
  keepLast: 5,
  queueLimit: 256,
  maxFrameBytes: 1 << 20,
  maxBodyBytes: 1 << 20,
  seed: 0,
};

const KEYS = new Set([
  'model',
  'optimizer',
  'curvature',
  'host',
  'port',
  'socketPort',
  'token',
  'checkpointDir',
  'checkpointEvery',
  'keepLast',
  'queueLimit',
  'maxFrameBytes',
  'maxBodyBytes',
  'seed',
]);

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function fail(key: string, expected: string, got: unknown): never {
  throw new DaemonConfigError(`daemon config: "${key}" must be ${expected}, got ${describe(got)}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(obj: Record<string, unknown>, key: string, min: number, max: number, dflt: number): number {
  const v = obj[key] ?? dflt;
  if (!Number.isInteger(v) || (v as number) < min || (v as number) > max)
    fail(key, `an integer in [${min}, ${max}]`, v);
  return v as number;
}

function checkUnknown(obj: Record<string, unknown>, known: Iterable<string>, where: string): void {
  const allowed = new Set(known);
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) {
      throw new DaemonConfigError(
        `daemon config: unknown key "${where}${k}" (allowed: ${[...allowed].join(', ')})`,
      );
    }
  }
}

function validateOptimizer(v: unknown): DaemonOptimizerConfig {
  if (!isObject(v)) fail('optimizer', 'an object like {"name": "sophiaG", "lr": 0.01}', v);
  const name = v.name;
  if (typeof name !== 'string' || !(DAEMON_OPTIMIZERS as readonly string[]).includes(name))
    fail('optimizer.name', `one of ${DAEMON_OPTIMIZERS.join(', ')}`, name);
  const hyper = OPTIMIZER_HYPERPARAMS[name as DaemonOptimizerName];
  checkUnknown(v, ['name', ...hyper], 'optimizer.');
  for (const k of hyper) {
    if (v[k] !== undefined && (typeof v[k] !== 'number' || !Number.isFinite(v[k])))
      fail(`optimizer.${k}`, 'a finite number', v[k]);
  }
  if (typeof v.lr !== 'number') fail('optimizer.lr', 'a finite number', v.lr);
  return v as DaemonOptimizerConfig;
}

function validateCurvature(v: unknown): CurvatureConfig {
  if (!isObject(v)) fail('curvature', 'an object like {"estimator": "gnb", "every": 10}', v);
  checkUnknown(v, ['estimator', 'every', 'first', 'staleness', 'probes'], 'curvature.');
  if (v.estimator !== 'gnb' && v.estimator !== 'hutchinson')
    fail('curvature.estimator', '"gnb" or "hutchinson"', v.estimator);
  for (const k of ['every', 'first', 'staleness', 'probes']) {
    if (v[k] !== undefined && (!Number.isInteger(v[k]) || (v[k] as number) < 0))
      fail(`curvature.${k}`, 'a non-negative integer', v[k]);
  }
  return v as unknown as CurvatureConfig;
}

/** Validates a parsed config object and fills defaults. Throws a DaemonConfigError naming the key. */
export function validateDaemonConfig(raw: unknown): DaemonConfig {
  if (!isObject(raw)) fail('(root)', 'an object', raw);
  checkUnknown(raw, KEYS, '');
  const model = raw.model;
  if (!isObject(model) || typeof model.kind !== 'string')
    fail('model', 'a model spec object like {"kind": "mlp", "sizes": [8, 6, 3]}', model);
  const optimizer = validateOptimizer(raw.optimizer);
  const config: DaemonConfig = {
    model: model as ModelSpec,
    optimizer,
    host: DEFAULTS.host,
    port: int(raw, 'port', 0, 65535, DEFAULTS.port),
    socketPort: raw.socketPort === null ? null : int(raw, 'socketPort', 0, 65535, DEFAULTS.socketPort),
    checkpointDir: '',
    checkpointEvery: int(raw, 'checkpointEvery', 0, Number.MAX_SAFE_INTEGER, DEFAULTS.checkpointEvery),
    keepLast: int(raw, 'keepLast', 1, 10_000, DEFAULTS.keepLast),
    queueLimit: int(raw, 'queueLimit', 1, 1_000_000, DEFAULTS.queueLimit),
    maxFrameBytes: int(raw, 'maxFrameBytes', 16, 1 << 30, DEFAULTS.maxFrameBytes),
    maxBodyBytes: int(raw, 'maxBodyBytes', 16, 1 << 30, DEFAULTS.maxBodyBytes),
    seed: int(raw, 'seed', 0, 2 ** 32 - 1, DEFAULTS.seed),
  };
  if (raw.host !== undefined) {
    if (typeof raw.host !== 'string' || raw.host === '') fail('host', 'a non-empty string', raw.host);
    config.host = raw.host;
  }
  if (typeof raw.checkpointDir !== 'string' || raw.checkpointDir === '')
    fail('checkpointDir', 'a non-empty string (a directory path)', raw.checkpointDir);
  config.checkpointDir = resolve(raw.checkpointDir);
  if (raw.token !== undefined) {
    if (typeof raw.token !== 'string' || raw.token.length < 8)
      fail('token', 'a string of at least 8 characters', raw.token);
    config.token = raw.token;
  }
  if (raw.curvature !== undefined) config.curvature = validateCurvature(raw.curvature);
  else if (optimizer.name === 'sophiaG') config.curvature = { estimator: 'gnb', every: 10 };
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
