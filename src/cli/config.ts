/**
 * The run config of `hessflow train` / `compare` / `hessian`: plain JSON, validated by the zod schemas
 * below. Every error names the key (as a dotted path), what was expected and what was given, and all
 * problems are reported at once (src/config/zod-errors.ts writes the messages). Objects are strict, so a
 * typo is an unknown key and never silently falls back to a default. config/quickstart.json (no `data`
 * key) stays valid: data defaults to MNIST.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { curvatureSchema, gpuSchema, int } from '../config/schemas.js';
import { type ConfigProblem, checkConfig, crossCheck, expecting, problem } from '../config/zod-errors.js';
import { OPTIMIZERS, type OptimizerConfig, optimizerEntry } from '../catalog/index.js';
import { curvatureProblems } from '../catalog/curvature-rules.js';
import { optimizerSchemaOf } from '../catalog/schema.js';
import { ConfigError, UsageError } from './errors.js';

/** Every optimizer of the catalog (src/catalog), with its own hyperparameters; `lr` is required. */
const optimizerSchema = optimizerSchemaOf(OPTIMIZERS);

export type { OptimizerConfig } from '../catalog/index.js';

const mlpSchema = z.strictObject({
  kind: z.literal('mlp'),
  sizes: expecting(z.array(int(1)).min(2), 'an array of at least 2 layer widths'),
  activation: z.enum(['tanh', 'relu', 'gelu']).optional(),
});

const gptSchema = crossCheck(
  z.strictObject({
    kind: z.literal('gpt'),
    /** Filled from the corpus when omitted. */
    vocabSize: int(2).optional(),
    blockSize: int(1),
    nLayer: int(1),
    nHead: int(1),
    nEmbd: int(1),
    tied: z.boolean().optional(),
  }),
  ['nEmbd', 'nHead'],
  (m, ctx) => {
    if (m.nEmbd % m.nHead !== 0)
      problem(ctx, ['nEmbd'], `must be divisible by model.nHead (${m.nHead}), got ${m.nEmbd}`);
  },
);

const builtinDataSchema = z.strictObject({
  name: z.enum(['mnist', 'moby-dick']),
  /** Held-out samples (MNIST digits, default all 2,000) or validation batches (Moby Dick, default 8). */
  evalSize: int(1).optional(),
});

const column = expecting(z.union([z.string().min(1), int(0)]), 'a column name or a 0-based column index');
const tableCommon = {
  /** The file; a relative path is relative to the config file's folder. */
  path: expecting(z.string().min(1), 'a file path'),
  /** The class-label column (integers from 0). */
  target: column,
  /** Feature columns (default every column but the target). */
  features: z.array(column).min(1).optional(),
  /** 'standard' (z-score) or 'minmax', from the train rows' statistics; default 'none'. */
  normalize: z.enum(['none', 'standard', 'minmax']).optional(),
  /** Classes (default 1 + the largest label in the file). */
  numClasses: int(2).optional(),
  /** Probability that a row is held out (default 0.1). */
  evalFraction: expecting(z.number().gt(0).lt(1), 'a number in (0, 1)').optional(),
  /** Held-out rows evaluated (default all, at most 10,000). */
  evalSize: int(1).optional(),
  /** "error" (default): a bad row stops with file:line:column; "skip": left out and counted. */
  badRows: z.enum(['error', 'skip']).optional(),
};

const csvDataSchema = z.strictObject({
  name: z.literal('csv'),
  ...tableCommon,
  /** The first line names the columns (default true). */
  header: z.boolean().optional(),
  delimiter: expecting(z.string().length(1), 'a one-character string').optional(),
});

const jsonlDataSchema = z.strictObject({ name: z.literal('jsonl'), ...tableCommon });

const textDataSchema = z.strictObject({
  name: z.literal('text'),
  /** Any UTF-8 file; a relative path is relative to the config file's folder. */
  path: expecting(z.string().min(1), 'a file path'),
  /** Fraction of the characters, from the start, that train (default 0.9). */
  trainFraction: expecting(z.number().gt(0).lt(1), 'a number in (0, 1)').optional(),
  /** Validation batches (default 8). */
  evalSize: int(1).optional(),
  /** Largest file read (default 256 MiB). */
  maxBytes: int(1).optional(),
});

const dataSchema = z.discriminatedUnion('name', [
  builtinDataSchema,
  csvDataSchema,
  jsonlDataSchema,
  textDataSchema,
]);

/** The data sets whose model is a GPT (character corpora); the others need an MLP. */
export const TEXT_DATA: readonly string[] = ['moby-dick', 'text'];

const scheduleSchema = crossCheck(
  z.strictObject({
    warmupSteps: int(0),
    /** Total length of warmup + cosine decay (default: the run's steps). */
    decaySteps: int(1).optional(),
    init: z.number().min(0).optional(),
    endValue: z.number().min(0).optional(),
  }),
  ['warmupSteps', 'decaySteps'],
  (s, ctx) => {
    if (s.decaySteps !== undefined && s.decaySteps <= s.warmupSteps)
      problem(
        ctx,
        ['decaySteps'],
        `must be greater than schedule.warmupSteps (${s.warmupSteps}), got ${s.decaySteps}`,
      );
  },
);

const generateSchema = z.strictObject({
  prompt: z.string().min(1).optional(),
  tokens: int(1).optional(),
  temperature: z.number().min(0).optional(),
  /** Sample among the k most likely characters only. */
  topK: int(1).optional(),
  lines: int(1).optional(),
});

/** Hessian diagnostics during training, written with the step's metrics. */
const diagnosticsSchema = crossCheck(
  z.strictObject({
    /** After every this many steps. */
    every: int(1),
    /** λmax by power iteration (default true). */
    topEigenvalue: z.boolean().optional(),
    /** Hutchinson trace (default true). */
    trace: z.boolean().optional(),
    /** Training batches the Hessian is averaged over (default 1). */
    batches: int(1).optional(),
    /** Most HVPs per iteration (default 100). */
    maxIter: int(1).optional(),
    /** Relative-change tolerance (default 1e-3). */
    tol: z.number().min(0).optional(),
  }),
  ['topEigenvalue', 'trace'],
  (d, ctx) => {
    if (d.topEigenvalue === false && d.trace === false)
      problem(ctx, [], 'topEigenvalue and trace are both false: nothing to compute');
  },
);

const runConfigSchema = z.strictObject({
  name: expecting(z.string().regex(/^[\w.-]+$/), "a string of letters, digits, '.', '_' or '-'").optional(),
  model: z.discriminatedUnion('kind', [mlpSchema, gptSchema]),
  optimizer: optimizerSchema,
  curvature: curvatureSchema.optional(),
  data: dataSchema.optional(),
  batchSize: int(1),
  steps: int(1),
  evalEvery: int(1),
  seed: int(0),
  schedule: scheduleSchema.optional(),
  /** Clip gradients to this global norm before the optimizer. */
  clip: z.number().positive().optional(),
  /** Text sampled after training (language models only). */
  generate: generateSchema.optional(),
  diagnostics: diagnosticsSchema.optional(),
  /** Where the pipeline's probe worker computes curvature estimates (default "cpu"). */
  gpu: gpuSchema.optional(),
  /** Stop when the held-out loss has not improved for `patience` evaluations (every evalEvery steps). */
  earlyStopping: z
    .strictObject({
      patience: int(1),
      /** An improvement smaller than this does not count (default 0). */
      minDelta: z.number().min(0).optional(),
    })
    .optional(),
});

/** The data set decides the model: a GPT for text, an MLP for tables (MNIST: 784 pixels to 10 classes). */
const withDataRules = crossCheck(runConfigSchema, ['model', 'data'], (c, ctx) => {
  const data = c.data?.name ?? 'mnist';
  const needs = TEXT_DATA.includes(data) ? 'gpt' : 'mlp';
  if (c.model.kind !== needs) {
    const model = needs === 'mlp' ? 'an "mlp"' : 'a "gpt"';
    problem(ctx, ['model', 'kind'], `data "${data}" needs ${model} model, got "${c.model.kind}"`);
    return;
  }
  // A user's table is checked against the model when it is read (its columns are not known here).
  if (c.model.kind !== 'mlp' || data !== 'mnist') return;
  const sizes = c.model.sizes;
  const last = sizes.length - 1;
  if (sizes[0] !== 784) problem(ctx, ['model', 'sizes', 0], `must be 784 (MNIST pixels), got ${sizes[0]}`);
  if (sizes[last] !== 10)
    problem(ctx, ['model', 'sizes', last], `must be 10 (MNIST classes), got ${sizes[last]}`);
});

/** What each optimizer needs from the curvature schedule, as its catalog entry says. */
const withCurvatureRules = crossCheck(withDataRules, ['optimizer', 'curvature'], (c, ctx) => {
  const entry = optimizerEntry((c.optimizer as OptimizerConfig).name);
  for (const [key, message] of curvatureProblems(entry, c.curvature))
    problem(ctx, key === null ? ['curvature'] : ['curvature', key], message);
});

const schema = crossCheck(withCurvatureRules, ['model', 'generate'], (c, ctx) => {
  if (c.generate !== undefined && c.model.kind !== 'gpt')
    problem(ctx, ['generate'], `text generation needs a "gpt" model, got "${c.model.kind}"`);
});

export type MlpModelConfig = z.output<typeof mlpSchema>;
export type GptModelConfig = z.output<typeof gptSchema>;
export type DataConfig = z.output<typeof dataSchema>;
export type CsvDataConfig = z.output<typeof csvDataSchema>;
export type JsonlDataConfig = z.output<typeof jsonlDataSchema>;
export type TextDataConfig = z.output<typeof textDataSchema>;
export type ScheduleConfig = z.output<typeof scheduleSchema>;
export type GenerateConfig = z.output<typeof generateSchema>;
export type DiagnosticsConfig = z.output<typeof diagnosticsSchema>;
export type RunConfig = Omit<z.output<typeof runConfigSchema>, 'optimizer'> & { optimizer: OptimizerConfig };

/** `optimizer.rho` → `optimizer`; a top-level key → ''. */
function parentOf(key: string): string {
  const dot = key.lastIndexOf('.');
  return dot < 0 ? '' : key.slice(0, dot);
}

function detailOf(p: ConfigProblem): string {
  if (p.kind === 'value') return p.detail;
  const parent = parentOf(p.key);
  return `unknown key; allowed${parent ? ` in ${parent}` : ''}: ${p.allowed.join(', ')}`;
}

/**
 * One ConfigError for all problems: its `key` is the first problem's, and its message has one line per
 * problem, each `source: key: detail`.
 */
function configError(source: string, problems: readonly ConfigProblem[]): ConfigError {
  const keyOf = (p: ConfigProblem): string => p.key || '(top level)';
  const [first, ...rest] = problems;
  const more = rest.map((p) => `\n${source}: ${keyOf(p)}: ${detailOf(p)}`).join('');
  return new ConfigError(source, keyOf(first), detailOf(first) + more);
}

/** Validates a parsed JSON config; `source` (a file name) prefixes every error. */
export function validateConfig(raw: unknown, source = 'config'): RunConfig {
  const r = checkConfig(schema, raw);
  if (!r.ok) throw configError(source, r.problems);
  return r.value as RunConfig;
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
  // A data file is found beside the config; the run's saved config then holds the absolute path.
  if (config.data && 'path' in config.data) config.data.path = resolve(dirname(path), config.data.path);
  return config;
}
