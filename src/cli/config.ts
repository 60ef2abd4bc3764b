/**
 * The run config of `hessflow train` / `compare` / `hessian`: plain JSON, validated by hand so every error
 * names the key (as a dotted path), what was expected and what was given. Unknown keys are errors, so a
 * typo never silently falls back to a default. config/quickstart.json (no `data` key) stays valid: data
 * defaults to MNIST.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CurvatureConfig } from '../train/curvature-schedule.js';
import { ConfigError, UsageError } from './errors.js';

export const OPTIMIZER_NAMES = ['sgd', 'adamw', 'lion', 'sophiaG', 'sophiaH', 'adahessian'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** Hyperparameters each optimizer accepts in the config (besides `name`). */
const OPTIMIZER_KEYS: Record<OptimizerName, Record<string, 'number' | 'boolean'>> = {
  sgd: { lr: 'number', momentum: 'number', nesterov: 'boolean', weightDecay: 'number' },
  adamw: { lr: 'number', b1: 'number', b2: 'number', eps: 'number', weightDecay: 'number' },
  lion: { lr: 'number', b1: 'number', b2: 'number', weightDecay: 'number' },
  sophiaG: { lr: 'number', b1: 'number', b2: 'number', rho: 'number', weightDecay: 'number' },
  sophiaH: {
    lr: 'number',
    b1: 'number',
    b2: 'number',
    eps: 'number',
    gamma: 'number',
    clipThreshold: 'number',
    weightDecay: 'number',
  },
  adahessian: {
    lr: 'number',
    b1: 'number',
    b2: 'number',
    eps: 'number',
    hessianPower: 'number',
    weightDecay: 'number',
    blockLength: 'number',
  },
};

export interface OptimizerConfig {
  name: OptimizerName;
  lr: number;
  [hyper: string]: number | boolean | string;
}

export interface MlpModelConfig {
  kind: 'mlp';
  sizes: number[];
  activation?: 'tanh' | 'relu' | 'gelu';
}

export interface GptModelConfig {
  kind: 'gpt';
  /** Filled from the corpus when omitted. */
  vocabSize?: number;
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  tied?: boolean;
}

export interface DataConfig {
  name: 'mnist' | 'moby-dick';
  /** Held-out samples (MNIST digits, default all 2,000) or validation batches (Moby Dick, default 8). */
  evalSize?: number;
}

export interface ScheduleConfig {
  warmupSteps: number;
  /** Total length of warmup + cosine decay (default: the run's steps). */
  decaySteps?: number;
  init?: number;
  endValue?: number;
}

export interface GenerateConfig {
  prompt?: string;
  tokens?: number;
  temperature?: number;
  lines?: number;
}

export interface RunConfig {
  name?: string;
  model: MlpModelConfig | GptModelConfig;
  optimizer: OptimizerConfig;
  curvature?: CurvatureConfig;
  data?: DataConfig;
  batchSize: number;
  steps: number;
  evalEvery: number;
  seed: number;
  schedule?: ScheduleConfig;
  /** Clip gradients to this global norm before the optimizer. */
  clip?: number;
  /** Text sampled after training (language models only). */
  generate?: GenerateConfig;
}

const TOP_KEYS = [
  'name',
  'model',
  'optimizer',
  'curvature',
  'data',
  'batchSize',
  'steps',
  'evalEvery',
  'seed',
  'schedule',
  'clip',
  'generate',
];

type Obj = Record<string, unknown>;

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

class Checker {
  constructor(readonly source: string) {}

  fail(key: string, detail: string): never {
    throw new ConfigError(this.source, key, detail);
  }

  object(key: string, v: unknown, allowed: readonly string[]): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      this.fail(key || '(top level)', `must be an object, got ${describe(v)}`);
    const unknown = Object.keys(v).filter((k) => !allowed.includes(k));
    if (unknown.length > 0) {
      const at = key ? `${key}.${unknown[0]}` : unknown[0];
      this.fail(at, `unknown key; allowed${key ? ` in ${key}` : ''}: ${allowed.join(', ')}`);
    }
    return v as Obj;
  }

  number(
    key: string,
    v: unknown,
    opts: { min?: number; max?: number; integer?: boolean; positive?: boolean } = {},
  ): number {
    if (typeof v !== 'number' || !Number.isFinite(v))
      this.fail(key, `must be a finite number, got ${describe(v)}`);
    if (opts.integer && !Number.isInteger(v)) this.fail(key, `must be an integer, got ${v}`);
    if (opts.positive && !(v > 0)) this.fail(key, `must be > 0, got ${v}`);
    if (opts.min !== undefined && v < opts.min) this.fail(key, `must be >= ${opts.min}, got ${v}`);
    if (opts.max !== undefined && v > opts.max) this.fail(key, `must be <= ${opts.max}, got ${v}`);
    return v;
  }

  int(key: string, v: unknown, min: number): number {
    return this.number(key, v, { integer: true, min });
  }

  oneOf<T extends string>(key: string, v: unknown, options: readonly T[]): T {
    if (typeof v !== 'string' || !options.includes(v as T))
      this.fail(
        key,
        `must be one of ${options.map((o) => JSON.stringify(o)).join(', ')}, got ${describe(v)}`,
      );
    return v as T;
  }

  required(obj: Obj, key: string, prefix: string): unknown {
    if (obj[key] === undefined) this.fail(prefix ? `${prefix}.${key}` : key, 'is required');
    return obj[key];
  }
}

function checkModel(c: Checker, v: unknown): MlpModelConfig | GptModelConfig {
  const kindOf = (v as Obj | null)?.kind;
  if (typeof v === 'object' && v !== null && kindOf === 'gpt') {
    const o = c.object('model', v, ['kind', 'vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd', 'tied']);
    const m: GptModelConfig = {
      kind: 'gpt',
      blockSize: c.int('model.blockSize', c.required(o, 'blockSize', 'model'), 1),
      nLayer: c.int('model.nLayer', c.required(o, 'nLayer', 'model'), 1),
      nHead: c.int('model.nHead', c.required(o, 'nHead', 'model'), 1),
      nEmbd: c.int('model.nEmbd', c.required(o, 'nEmbd', 'model'), 1),
    };
    if (m.nEmbd % m.nHead !== 0)
      c.fail('model.nEmbd', `${m.nEmbd} is not divisible by model.nHead ${m.nHead}`);
    if (o.vocabSize !== undefined) m.vocabSize = c.int('model.vocabSize', o.vocabSize, 2);
    if (o.tied !== undefined) {
      if (typeof o.tied !== 'boolean') c.fail('model.tied', `must be a boolean, got ${describe(o.tied)}`);
      m.tied = o.tied;
    }
    return m;
  }
  const o = c.object('model', v, ['kind', 'sizes', 'activation']);
  c.oneOf('model.kind', o.kind, ['mlp', 'gpt']);
  const sizes = c.required(o, 'sizes', 'model');
  if (!Array.isArray(sizes) || sizes.length < 2)
    c.fail('model.sizes', `must be an array of at least 2 layer widths, got ${describe(sizes)}`);
  const m: MlpModelConfig = { kind: 'mlp', sizes: sizes.map((s, i) => c.int(`model.sizes[${i}]`, s, 1)) };
  if (o.activation !== undefined)
    m.activation = c.oneOf('model.activation', o.activation, ['tanh', 'relu', 'gelu'] as const);
  return m;
}

function checkOptimizer(c: Checker, v: unknown): OptimizerConfig {
  const name = c.oneOf('optimizer.name', (v as Obj | null)?.name, OPTIMIZER_NAMES);
  const keys = OPTIMIZER_KEYS[name];
  const o = c.object('optimizer', v, ['name', ...Object.keys(keys)]);
  const out: OptimizerConfig = {
    name,
    lr: c.number('optimizer.lr', c.required(o, 'lr', 'optimizer'), { positive: true }),
  };
  for (const [k, type] of Object.entries(keys)) {
    if (k === 'lr' || o[k] === undefined) continue;
    const key = `optimizer.${k}`;
    if (type === 'boolean') {
      if (typeof o[k] !== 'boolean') c.fail(key, `must be a boolean, got ${describe(o[k])}`);
      out[k] = o[k];
    } else if (k === 'b1' || k === 'b2' || k === 'momentum') {
      out[k] = c.number(key, o[k], { min: 0 });
      if ((out[k] as number) >= 1) c.fail(key, `must be in [0, 1), got ${o[k]}`);
    } else if (k === 'hessianPower') {
      out[k] = c.number(key, o[k], { min: 0, max: 1 });
    } else if (k === 'blockLength') {
      const b = c.number(key, o[k], { integer: true, min: -1 });
      if (b === 0) c.fail(key, 'must be -1 (whole row) or a positive integer, got 0');
      out[k] = b;
    } else if (k === 'eps' || k === 'gamma' || k === 'clipThreshold') {
      out[k] = c.number(key, o[k], { positive: true });
    } else {
      out[k] = c.number(key, o[k], { min: 0 });
    }
  }
  return out;
}

function checkCurvature(c: Checker, v: unknown): CurvatureConfig {
  const o = c.object('curvature', v, ['estimator', 'every', 'first', 'staleness', 'probes']);
  const out: CurvatureConfig = {
    estimator: c.oneOf('curvature.estimator', c.required(o, 'estimator', 'curvature'), ['gnb', 'hutchinson']),
  };
  if (o.every !== undefined) out.every = c.int('curvature.every', o.every, 1);
  if (o.first !== undefined) out.first = c.int('curvature.first', o.first, 0);
  if (o.staleness !== undefined) out.staleness = c.int('curvature.staleness', o.staleness, 0);
  if (o.probes !== undefined) out.probes = c.int('curvature.probes', o.probes, 1);
  return out;
}

/** Validates a parsed JSON config; `source` (a file name) prefixes every error. */
export function validateConfig(raw: unknown, source = 'config'): RunConfig {
  const c = new Checker(source);
  const o = c.object('', raw, TOP_KEYS);
  const config: RunConfig = {
    model: checkModel(c, c.required(o, 'model', '')),
    optimizer: checkOptimizer(c, c.required(o, 'optimizer', '')),
    batchSize: c.int('batchSize', c.required(o, 'batchSize', ''), 1),
    steps: c.int('steps', c.required(o, 'steps', ''), 1),
    evalEvery: c.int('evalEvery', c.required(o, 'evalEvery', ''), 1),
    seed: c.int('seed', c.required(o, 'seed', ''), 0),
  };
  if (o.name !== undefined) {
    if (typeof o.name !== 'string' || !/^[\w.-]+$/.test(o.name))
      c.fail('name', `must be a string of letters, digits, '.', '_' or '-', got ${describe(o.name)}`);
    config.name = o.name as string;
  }
  if (o.data !== undefined) {
    const d = c.object('data', o.data, ['name', 'evalSize']);
    config.data = { name: c.oneOf('data.name', c.required(d, 'name', 'data'), ['mnist', 'moby-dick']) };
    if (d.evalSize !== undefined) config.data.evalSize = c.int('data.evalSize', d.evalSize, 1);
  }
  const dataName = config.data?.name ?? 'mnist';
  if (dataName === 'mnist' && config.model.kind !== 'mlp')
    c.fail('model.kind', `data "mnist" needs an "mlp" model, got "${config.model.kind}"`);
  if (dataName === 'moby-dick' && config.model.kind !== 'gpt')
    c.fail('model.kind', `data "moby-dick" needs a "gpt" model, got "${config.model.kind}"`);
  if (config.model.kind === 'mlp') {
    const sizes = config.model.sizes;
    if (sizes[0] !== 784) c.fail('model.sizes[0]', `must be 784 (MNIST pixels), got ${sizes[0]}`);
    if (sizes[sizes.length - 1] !== 10)
      c.fail(
        `model.sizes[${sizes.length - 1}]`,
        `must be 10 (MNIST classes), got ${sizes[sizes.length - 1]}`,
      );
  }
  if (o.curvature !== undefined) config.curvature = checkCurvature(c, o.curvature);
  const opt = config.optimizer.name;
  if ((opt === 'sophiaH' || opt === 'adahessian') && config.curvature?.estimator !== 'hutchinson')
    c.fail(
      'curvature.estimator',
      `${opt} needs "hutchinson" curvature (z⊙Hz), got ${describe(config.curvature?.estimator)}`,
    );
  if (opt === 'sophiaG' && config.curvature === undefined)
    c.fail('curvature', 'sophiaG needs a curvature schedule, e.g. {"estimator": "gnb", "every": 10}');
  if (opt === 'adahessian') {
    if (config.curvature!.first !== undefined && config.curvature!.first !== 0)
      c.fail(
        'curvature.first',
        `adahessian needs an estimate on the first step: must be 0, got ${config.curvature!.first}`,
      );
    if (config.curvature!.staleness) c.fail('curvature.staleness', 'adahessian needs staleness 0');
  }
  if (o.schedule !== undefined) {
    const s = c.object('schedule', o.schedule, ['warmupSteps', 'decaySteps', 'init', 'endValue']);
    config.schedule = {
      warmupSteps: c.int('schedule.warmupSteps', c.required(s, 'warmupSteps', 'schedule'), 0),
    };
    if (s.decaySteps !== undefined) {
      config.schedule.decaySteps = c.int('schedule.decaySteps', s.decaySteps, 1);
      if (config.schedule.decaySteps <= config.schedule.warmupSteps)
        c.fail(
          'schedule.decaySteps',
          `must be greater than schedule.warmupSteps (${config.schedule.warmupSteps})`,
        );
    }
    if (s.init !== undefined) config.schedule.init = c.number('schedule.init', s.init, { min: 0 });
    if (s.endValue !== undefined)
      config.schedule.endValue = c.number('schedule.endValue', s.endValue, { min: 0 });
  }
  if (o.clip !== undefined) config.clip = c.number('clip', o.clip, { positive: true });
  if (o.generate !== undefined) {
    if (config.model.kind !== 'gpt') c.fail('generate', 'text generation needs a "gpt" model');
    const g = c.object('generate', o.generate, ['prompt', 'tokens', 'temperature', 'lines']);
    config.generate = {};
    if (g.prompt !== undefined) {
      if (typeof g.prompt !== 'string' || g.prompt.length === 0)
        c.fail('generate.prompt', `must be a non-empty string, got ${describe(g.prompt)}`);
      config.generate.prompt = g.prompt as string;
    }
    if (g.tokens !== undefined) config.generate.tokens = c.int('generate.tokens', g.tokens, 1);
    if (g.temperature !== undefined)
      config.generate.temperature = c.number('generate.temperature', g.temperature, { min: 0 });
    if (g.lines !== undefined) config.generate.lines = c.int('generate.lines', g.lines, 1);
  }
  return config;
}

/** The repository / package root (holds package.json and config/), from src/cli or dist/src/cli. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'hessflow') return dir;
    } catch {
      // not here; go up
    }
    dir = dirname(dir);
  }
  throw new Error('hessflow: cannot find the package root (package.json)');
}

export function defaultConfigPath(): string {
  return join(packageRoot(), 'config', 'quickstart.json');
}

/** Reads and validates a config file; a missing file or bad JSON is a UsageError. */
export function readConfig(path: string): RunConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read config ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  const config = validateConfig(raw, path);
  config.name ??= basename(path, extname(path));
  return config;
}
