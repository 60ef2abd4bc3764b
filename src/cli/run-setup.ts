/**
 * From a run config to the parts of a run: the data (`setupData`), the model spec, the learning rate and
 * its schedule, and the optimizer (`buildOptimizer`). Shared by `train`, `compare`, `hessian` and the
 * benchmarks; run-training.ts drives the steps.
 */
import type { Batch } from '../data/batch.js';
import { batchAt, batchSampler, batchSpecOf, loadMnist, loadMobyDick } from '../data/index.js';
import type { BatchSpec } from '../data/validate.js';
import type { CharCorpus } from '../data/char-corpus.js';
import type { CharVocab } from '../data/char-vocab.js';
import { type TableFile, indexTableFile } from '../data/table-file.js';
import { featureCount } from '../data/table-rows.js';
import { readTextCorpus } from '../data/text-file.js';
import type { Model, ModelSpec } from '../nn/model.js';
import { optimizerEntry } from '../catalog/index.js';
import {
  chain,
  clipByGlobalNorm,
  warmupCosineSchedule,
  type GradientTransformation,
  type ScalarOrSchedule,
} from '../optim/index.js';
import { Trainer, type TrainState } from '../train/train.js';
import type { RunConfig } from './config.js';
import { ConfigError } from './errors.js';
import { shownPath } from '../report/run-dir.js';

/** Everything the data side of a run provides. */
export interface RunData {
  batchAt: (step: number) => Batch;
  batchSpec: BatchSpec;
  evalBatches: Batch[];
  /** Predictions per training batch (tokens for a language model): Sophia-G's `bs`. */
  predictionsPerBatch: number;
  /** The character corpus of a language model's run. */
  corpus?: CharCorpus;
  /** The user's table of a CSV or JSONL run: its layout, normalisation and skipped rows. */
  table?: TableFile;
}

/** Held-out rows evaluated at most (data.evalSize overrides). */
export const TABLE_EVAL_ROWS = 10_000;

export interface SetupDataOptions {
  /** A text run's saved vocabulary (resuming): the file is encoded with it. */
  vocab?: CharVocab;
}

export function setupData(config: RunConfig, options: SetupDataOptions = {}): RunData {
  const { batchSize, seed } = config;
  const d = config.data;
  if (d?.name === 'csv' || d?.name === 'jsonl') {
    const table = indexTableFile({
      format: d.name,
      path: d.path,
      target: d.target,
      ...(d.features ? { features: d.features } : {}),
      ...(d.name === 'csv' && d.header !== undefined ? { header: d.header } : {}),
      ...(d.name === 'csv' && d.delimiter !== undefined ? { delimiter: d.delimiter } : {}),
      ...(d.normalize ? { normalize: d.normalize } : {}),
      ...(d.numClasses !== undefined ? { numClasses: d.numClasses } : {}),
      ...(d.evalFraction !== undefined ? { evalFraction: d.evalFraction } : {}),
      ...(d.badRows ? { badRows: d.badRows } : {}),
      seed,
    });
    const n = Math.min(d.evalSize ?? TABLE_EVAL_ROWS, table.heldOut.size);
    return {
      batchAt: batchSampler(table.train, { batchSize, seed }),
      batchSpec: batchSpecOf(table.train),
      evalBatches: [table.heldOut.gather(Int32Array.from({ length: n }, (_, i) => i))],
      predictionsPerBatch: batchSize,
      table,
    };
  }
  if ((d?.name ?? 'mnist') === 'mnist') {
    const { train, test } = loadMnist();
    const n = Math.min(config.data?.evalSize ?? test.dataset.size, test.dataset.size);
    return {
      batchAt: (k) => batchAt(train.dataset, { batchSize, seed }, k),
      batchSpec: batchSpecOf(train.dataset),
      evalBatches: [test.dataset.gather(Int32Array.from({ length: n }, (_, i) => i))],
      predictionsPerBatch: batchSize,
    };
  }
  const corpus =
    d?.name === 'text'
      ? readTextCorpus(d.path, {
          ...(d.maxBytes !== undefined ? { maxBytes: d.maxBytes } : {}),
          ...(d.trainFraction !== undefined ? { trainFraction: d.trainFraction } : {}),
          ...(options.vocab ? { vocab: options.vocab } : {}),
        })
      : loadMobyDick();
  const block = (config.model as { blockSize: number }).blockSize;
  return {
    batchAt: (k) => corpus.trainBatch(batchSize, block, seed, k),
    batchSpec: batchSpecOf(corpus.windows('train', block)),
    evalBatches: corpus.fixedValidationBatches(config.data?.evalSize ?? 8, batchSize, block, seed),
    predictionsPerBatch: batchSize * block,
    corpus,
  };
}

/**
 * The model spec of a config (a GPT's vocabulary filled from the corpus). A user's table must match the
 * MLP's ends: as many inputs as features, as many outputs as classes.
 */
export function modelSpecOf(config: RunConfig, data?: RunData): ModelSpec {
  if (config.model.kind === 'gpt' && config.model.vocabSize === undefined) {
    const corpus =
      data?.corpus ?? (config.data?.name === 'text' ? setupData(config).corpus! : loadMobyDick());
    return { ...config.model, vocabSize: corpus.vocabSize };
  }
  const table = data?.table;
  if (config.model.kind === 'mlp' && table) {
    const sizes = config.model.sizes;
    const last = sizes.length - 1;
    const where = shownPath(table.train.path);
    const features = featureCount(table.layout);
    if (sizes[0] !== features)
      throw new ConfigError(
        'config',
        'model.sizes[0]',
        `must be ${features} (the features of ${where}), got ${sizes[0]}`,
      );
    if (sizes[last] !== table.numClasses)
      throw new ConfigError(
        'config',
        `model.sizes[${last}]`,
        `must be ${table.numClasses} (the classes of ${where}), got ${sizes[last]}`,
      );
  }
  return config.model as ModelSpec;
}

/** The learning rate as configured: a number, or warmup + cosine decay peaking at optimizer.lr. */
export function learningRateOf(config: RunConfig): ScalarOrSchedule {
  const s = config.schedule;
  if (!s) return config.optimizer.lr;
  return warmupCosineSchedule({
    peak: config.optimizer.lr,
    warmupSteps: s.warmupSteps,
    decaySteps: Math.max(s.decaySteps ?? config.steps, s.warmupSteps + 1),
    init: s.init,
    endValue: s.endValue,
  });
}

/** The learning rate in effect at `step`. */
export function learningRateAt(config: RunConfig, step: number): number {
  const lr = learningRateOf(config);
  return typeof lr === 'number' ? lr : lr(step);
}

/**
 * The optimizer of a run config, built by its catalog entry for this model: the learning rate (with its
 * schedule), the decay mask from the model's tags, and a global-norm clip first when configured.
 */
export function buildOptimizer(config: RunConfig, model: Model): GradientTransformation {
  const { name, lr: peak, ...hyper } = config.optimizer;
  const lr = learningRateOf(config);
  const decay = model.layout.entries.some((e) => e.tags.includes('decay'));
  const opt = optimizerEntry(name).build({
    hyper,
    lr,
    lrFactor: (step) => (typeof lr === 'number' ? 1 : lr(step) / peak),
    model,
    ...(decay ? { decayMask: model.layout.maskByTag('decay') } : {}),
  });
  return config.clip === undefined ? opt : chain(clipByGlobalNorm(config.clip), opt);
}

/**
 * The synchronous Trainer of a config, without evaluation inside (callers evaluate when they choose):
 * the reference loop, used by `--engine trainer` runs and the benchmarks.
 */
export function trainerFor(
  config: RunConfig,
  data: RunData,
  model: Model,
  optimizer: GradientTransformation = buildOptimizer(config, model),
  resume?: TrainState,
): Trainer {
  return new Trainer({
    ...(resume ? { resume } : {}),
    model,
    optimizer,
    curvature: config.curvature,
    batchAt: data.batchAt,
    batchSpec: data.batchSpec,
    steps: config.steps,
    seed: config.seed,
  });
}
