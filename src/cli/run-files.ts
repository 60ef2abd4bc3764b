/**
 * What a run directory holds for continuing and using a trained model, beside config.json, metrics,
 * checkpoint.hfckpt and weights.safetensors (src/report/run-dir.ts):
 *
 * - `vocab.json` (language models): the characters in id order, so sampling and resuming encode text
 *   with the ids the model was trained on;
 * - `data.json` (CSV/JSONL): the column layout, classes and normalisation, so `predict` reads new rows
 *   exactly as training did;
 * - `best/` : checkpoint.hfckpt and weights.safetensors of the lowest held-out loss so far;
 * - in the checkpoint's meta: the config, the model spec, the early-stopping counters and, once a run
 *   has ended or stopped, `resume` (the curvature estimates in flight and the skipped-step count).
 *
 * `readRun` loads these back and checks they belong together.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CharVocab } from '../data/char-vocab.js';
import type { Normalization, SkippedRows } from '../data/table-file.js';
import type { TableLayout } from '../data/table-rows.js';
import { type Checkpoint, loadCheckpoint } from '../io/index.js';
import type { ModelSpec } from '../nn/model.js';
import { buildModel } from '../nn/models/registry.js';
import type { Model } from '../nn/model.js';
import type { PendingEstimate } from '../step/records.js';
import { RUN_FILES, writeJson } from '../report/run-dir.js';
import { type RunConfig, validateConfig } from './config.js';
import { UsageError } from './errors.js';
import type { RunData } from './run-setup.js';

export const RUN_EXTRA_FILES = {
  vocab: 'vocab.json',
  data: 'data.json',
  best: 'best',
  summary: 'summary.json',
} as const;

/** data.json: a table run's reading of its file. */
export interface TableDataFile {
  layout: TableLayout;
  numClasses: number;
  normalization: Normalization;
  /** Rows of the training file left out as bad (badRows "skip"). */
  skipped: SkippedRows;
}

/** The checkpoint meta's `resume`: what θ and the optimizer state do not say. */
export interface ResumeMeta {
  pending: PendingEstimate[];
  skipped: number;
}

/** Early stopping's counters, kept in the checkpoint meta so a resumed run carries them on. */
export interface BestMeta {
  /** Lowest held-out loss so far and the step count it was reached at. */
  bestLoss: number | null;
  bestStep: number | null;
  /** Evaluations since the best one. */
  evalsSinceBest: number;
}

/** Writes vocab.json or data.json for the run's data (nothing for MNIST / Moby Dick tables). */
export async function writeDataFiles(dir: string, data: RunData): Promise<void> {
  if (data.corpus) await writeJson(join(dir, RUN_EXTRA_FILES.vocab), { chars: data.corpus.vocab.chars });
  if (data.table) {
    const t = data.table;
    const file: TableDataFile = {
      layout: t.layout,
      numClasses: t.numClasses,
      normalization: t.normalization,
      skipped: t.skipped,
    };
    await writeJson(join(dir, RUN_EXTRA_FILES.data), file);
  }
}

/** True when `dir` already holds a run (its config or checkpoint). */
export function isRunDir(dir: string): boolean {
  return existsSync(join(dir, RUN_FILES.config)) || existsSync(join(dir, RUN_FILES.checkpoint));
}

/** Removes the files a run writes (for `train -o DIR --force`), nothing else in the folder. */
export function clearRunDir(dir: string): void {
  const names = [
    ...Object.values(RUN_FILES),
    ...Object.values(RUN_EXTRA_FILES),
    'training.svg',
    'training.png',
  ];
  for (const n of names) rmSync(join(dir, n), { recursive: true, force: true });
}

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
}

export interface SavedRun {
  dir: string;
  config: RunConfig;
  checkpoint: Checkpoint;
  spec: ModelSpec;
  model: Model;
  vocab?: CharVocab;
  table?: TableDataFile;
  resume?: ResumeMeta;
  best: BestMeta;
}

/**
 * A run directory read back: config, checkpoint (from `best/` with `best`), model spec, vocabulary or
 * table reading. Missing or mismatched pieces are UsageErrors naming the file.
 */
export async function readRun(runDir: string, o: { best?: boolean } = {}): Promise<SavedRun> {
  const dir = resolve(runDir);
  if (!isRunDir(dir))
    throw new UsageError(
      `${runDir}: not a run directory (no ${RUN_FILES.config} or ${RUN_FILES.checkpoint})`,
    );
  const configPath = join(dir, RUN_FILES.config);
  const config = validateConfig(readJsonFile(configPath), configPath);
  const cpPath = join(o.best ? join(dir, RUN_EXTRA_FILES.best) : dir, RUN_FILES.checkpoint);
  if (!existsSync(cpPath)) throw new UsageError(`${cpPath}: missing (the run wrote no checkpoint)`);
  const checkpoint = await loadCheckpoint(cpPath);
  const spec = checkpoint.meta.model as ModelSpec | undefined;
  if (!spec || typeof spec !== 'object' || typeof spec.kind !== 'string')
    throw new UsageError(`${cpPath}: the checkpoint records no model spec (meta.model)`);
  const model = buildModel(spec);
  const names = model.layout.entries.map((e) => `${e.name}[${e.shape.join(',')}]`).join(' ');
  const saved = checkpoint.layout.map((e) => `${e.name}[${e.shape.join(',')}]`).join(' ');
  if (names !== saved || checkpoint.params.length !== model.layout.size)
    throw new UsageError(`${cpPath}: its parameters do not match the model spec it records`);
  let vocab: CharVocab | undefined;
  const vocabPath = join(dir, RUN_EXTRA_FILES.vocab);
  if (spec.kind === 'gpt' && existsSync(vocabPath)) {
    const v = readJsonFile(vocabPath) as { chars?: unknown };
    if (!Array.isArray(v.chars) || !v.chars.every((c) => typeof c === 'string'))
      throw new UsageError(`${vocabPath}: "chars" must be an array of characters`);
    vocab = new CharVocab(v.chars as string[]);
    if (vocab.size !== (spec as { vocabSize: number }).vocabSize)
      throw new UsageError(`${vocabPath}: ${vocab.size} characters, the model has ${String(spec.vocabSize)}`);
  }
  const dataPath = join(dir, RUN_EXTRA_FILES.data);
  const table = existsSync(dataPath) ? (readJsonFile(dataPath) as TableDataFile) : undefined;
  const meta = checkpoint.meta;
  const resumeMeta = meta.resume as ResumeMeta | undefined;
  const best: BestMeta = {
    bestLoss: typeof meta.bestLoss === 'number' ? meta.bestLoss : null,
    bestStep: typeof meta.bestStep === 'number' ? meta.bestStep : null,
    evalsSinceBest: typeof meta.evalsSinceBest === 'number' ? meta.evalsSinceBest : 0,
  };
  return {
    dir,
    config,
    checkpoint,
    spec,
    model,
    ...(vocab ? { vocab } : {}),
    ...(table ? { table } : {}),
    ...(resumeMeta ? { resume: resumeMeta } : {}),
    best,
  };
}
