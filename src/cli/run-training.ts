/**
 * The training driver behind `hessflow train` and `compare`: config → data, model, optimizer → steps.
 * `runTraining(config, { onStep })` is the one place that runs the loop; today it drives the synchronous
 * `Trainer` (the reference semantics), and it is async so it can switch to the streaming pipeline
 * (src/pipeline) without changing its callers.
 */
import type { Batch } from '../data/batch.js';
import { batchAt, batchSpecOf, loadMnist, loadMobyDick } from '../data/index.js';
import type { BatchSpec } from '../data/validate.js';
import type { MobyDickCorpus } from '../data/moby-dick.js';
import type { Model, ModelSpec } from '../nn/model.js';
import { buildModel } from '../nn/models/registry.js';
import {
  adahessian,
  adamw,
  chain,
  clipByGlobalNorm,
  lion,
  sgd,
  sophiaG,
  sophiaH,
  warmupCosineSchedule,
  type GradientTransformation,
  type HessianBlock,
  type ScalarOrSchedule,
} from '../optim/index.js';
import { setFiniteChecks } from '../tensor/index.js';
import type { EvalResult } from '../train/evaluate.js';
import { evaluate } from '../train/evaluate.js';
import { Trainer, type StepMetrics } from '../train/train.js';
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

/** AdaHessian's averaging blocks from the layout: dense [out, in] tensors and vectors. */
export function hessianBlocks(model: Model, blockLength?: number): HessianBlock[] {
  return model.layout.entries.map((e) =>
    e.shape.length === 2
      ? { offset: e.offset, shape: [...e.shape], kind: 'dense', ...(blockLength ? { blockLength } : {}) }
      : { offset: e.offset, shape: [e.size], kind: 'vector' },
  );
}

export function buildOptimizer(config: RunConfig, model: Model): GradientTransformation {
  const { name, lr: _lr, blockLength, ...hyper } = config.optimizer;
  const lr = learningRateOf(config);
  const decay = model.layout.entries.some((e) => e.tags.includes('decay'));
  const mask = decay ? model.layout.maskByTag('decay') : undefined;
  const common = { ...hyper, lr, ...(mask ? { mask } : {}) };
  let opt: GradientTransformation;
  switch (name) {
    case 'sgd':
      opt = sgd(common);
      break;
    case 'adamw':
      opt = adamw(common);
      break;
    case 'lion':
      opt = lion(common);
      break;
    case 'sophiaG':
      opt = sophiaG(common);
      break;
    case 'sophiaH':
      opt = sophiaH(common);
      break;
    case 'adahessian':
      opt = adahessian({
        ...common,
        blocks: hessianBlocks(model, typeof blockLength === 'number' ? blockLength : undefined),
      });
      break;
  }
  return config.clip === undefined ? opt : chain(clipByGlobalNorm(config.clip), opt);
}

export interface TrainingResult {
  model: Model;
  params: Float32Array;
  optimizerState: unknown;
  /** Steps completed. */
  step: number;
  skipped: number;
  /** Held-out loss/accuracy after the last step. */
  finalEval: EvalResult;
  elapsedMs: number;
  data: RunData;
}

export interface RunTrainingOptions {
  /** Called after every step with its metrics. */
  onStep?: (m: StepMetrics) => void;
}

/** Trains `config.steps` steps and evaluates on the held-out data at the end. */
export async function runTraining(
  config: RunConfig,
  options: RunTrainingOptions = {},
): Promise<TrainingResult> {
  // The loop checks loss, gradient and update for non-finite values and skips such steps itself.
  setFiniteChecks(false);
  const data = setupData(config);
  const model = buildModel(modelSpecOf(config, data));
  const trainer = new Trainer({
    model,
    optimizer: buildOptimizer(config, model),
    curvature: config.curvature,
    batchAt: data.batchAt,
    batchSpec: data.batchSpec,
    steps: config.steps,
    seed: config.seed,
    evaluation: { every: config.evalEvery, batches: data.evalBatches },
  });
  const started = performance.now();
  let last: StepMetrics | undefined;
  for (const m of trainer) {
    last = m;
    options.onStep?.(m);
    // Let timers and signals run between steps.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const elapsedMs = performance.now() - started;
  const s = trainer.state();
  return {
    model,
    params: s.params,
    optimizerState: s.optState,
    step: s.step,
    skipped: s.skipped,
    finalEval: last?.eval ?? evaluate(model, s.params, data.evalBatches),
    elapsedMs,
    data,
  };
}
