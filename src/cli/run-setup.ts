/**
 * From a run config to the parts of a run: the data (`setupData`), the model spec, the learning rate and
 * its schedule, and the optimizer (`buildOptimizer`). Shared by `train`, `compare`, `hessian` and the
 * benchmarks; run-training.ts drives the steps.
 */
import type { Batch } from '../data/batch.js';
import { batchAt, batchSpecOf, loadMnist, loadMobyDick } from '../data/index.js';
import type { BatchSpec } from '../data/validate.js';
import type { MobyDickCorpus } from '../data/moby-dick.js';
import type { Model, ModelSpec } from '../nn/model.js';
import { optimizerEntry } from '../catalog/index.js';
import {
  chain,
  clipByGlobalNorm,
  warmupCosineSchedule,
  type GradientTransformation,
  type ScalarOrSchedule,
} from '../optim/index.js';
import { Trainer } from '../train/train.js';
import type { RunConfig } from './config.js';

/** Everything the data side of a run provides. */
export interface RunData {
  batchAt: (step: number) => Batch;
  batchSpec: BatchSpec;
  evalBatches: Batch[];
  /** Predictions per training batch (tokens for a language model): Sophia-G's `bs`. */
  predictionsPerBatch: number;
  corpus?: MobyDickCorpus;
}

export function setupData(config: RunConfig): RunData {
  const { batchSize, seed } = config;
  if ((config.data?.name ?? 'mnist') === 'mnist') {
    const { train, test } = loadMnist();
    const n = Math.min(config.data?.evalSize ?? test.dataset.size, test.dataset.size);
    return {
      batchAt: (k) => batchAt(train.dataset, { batchSize, seed }, k),
      batchSpec: batchSpecOf(train.dataset),
      evalBatches: [test.dataset.gather(Int32Array.from({ length: n }, (_, i) => i))],
      predictionsPerBatch: batchSize,
    };
  }
  const corpus = loadMobyDick();
  const block = (config.model as { blockSize: number }).blockSize;
  return {
    batchAt: (k) => corpus.trainBatch(batchSize, block, seed, k),
    batchSpec: batchSpecOf(corpus.windows('train', block)),
    evalBatches: corpus.fixedValidationBatches(config.data?.evalSize ?? 8, batchSize, block, seed),
    predictionsPerBatch: batchSize * block,
    corpus,
  };
}

/** The model spec of a config (a GPT's vocabulary filled from the corpus). */
export function modelSpecOf(config: RunConfig, data?: RunData): ModelSpec {
  if (config.model.kind === 'gpt' && config.model.vocabSize === undefined) {
    const corpus = data?.corpus ?? loadMobyDick();
    return { ...config.model, vocabSize: corpus.vocabSize };
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
): Trainer {
  return new Trainer({
    model,
    optimizer,
    curvature: config.curvature,
    batchAt: data.batchAt,
    batchSpec: data.batchSpec,
    steps: config.steps,
    seed: config.seed,
  });
}
