import t from 'tap';
import {
  BatchValidationError,
  batchAt,
  batchSpecOf,
  loadMobyDick,
  softmaxRegressionData,
} from '../../src/data/index.js';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/io/index.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { adamw, sgd, sophiaG, sophiaH } from '../../src/optim/index.js';
import { Trainer, train, type TrainState } from '../../src/train/train.js';
import { evaluate } from '../../src/train/evaluate.js';

const data = softmaxRegressionData({ samples: 256, features: 8, classes: 3, seed: 1 });
const model = buildModel({ kind: 'mlp', sizes: [8, 6, 3], activation: 'tanh' });
const batchOf = (k: number) => batchAt(data.dataset, { batchSize: 32, seed: 2 }, k);
const spec = batchSpecOf(data.dataset);

t.test('Sophia-G with GNB curvature reduces the loss and reports win-rate and refreshes', async (t) => {
  const { history, state } = train({
    model,
    optimizer: sophiaG({ lr: 0.02, rho: 0.05, weightDecay: 0 }),
    curvature: { estimator: 'gnb', every: 5 },
    batchAt: batchOf,
    batchSpec: spec,
    steps: 120,
    seed: 3,
  });
  const refreshes = history.filter((m) => m.curvatureStaleness !== undefined).map((m) => m.step);
  // The official schedule: estimates on θ_t for t = k, 2k, …, applied before update t.
  t.same(refreshes.slice(0, 4), [5, 10, 15, 20]);
  t.ok(history.every((m) => m.winRate !== undefined && m.winRate >= 0 && m.winRate <= 1));
  const initial = new Trainer({
    model,
    optimizer: sgd({ lr: 0 }),
    batchAt: batchOf,
    steps: 0,
    seed: 3,
  }).state().params;
  const before = evaluate(model, initial, [batchOf(0), batchOf(1)]).loss;
  const after = evaluate(model, state.params, [batchOf(0), batchOf(1)]).loss;
  t.ok(after < 0.8 * before, `held loss ${before.toFixed(3)} → ${after.toFixed(3)}`);
  t.equal(state.skipped, 0);
});

t.test('delayed curvature is applied exactly `staleness` steps after launch', async (t) => {
  const { history } = train({
    model,
    optimizer: sophiaH({ lr: 0.01 }),
    curvature: { estimator: 'hutchinson', every: 4, first: 0, staleness: 2 },
    batchAt: batchOf,
    steps: 15,
    seed: 3,
  });
  const applied = history.filter((m) => m.curvatureStaleness !== undefined);
  t.same(
    applied.map((m) => m.step),
    [2, 6, 10, 14],
  );
  t.ok(applied.every((m) => m.curvatureStaleness === 2));
});

t.test('save → checkpoint bytes → load → continue equals an uninterrupted run, bit for bit', async (t) => {
  for (const [name, optimizer, curvature] of [
    ['sophiaG', sophiaG({ lr: 0.02, rho: 0.05 }), { estimator: 'gnb' as const, every: 3, staleness: 1 }],
    ['adamw', adamw({ lr: 0.01 }), undefined],
  ] as const) {
    const config = { model, optimizer, curvature, batchAt: batchOf, steps: 20, seed: 4 };
    const full = train(config).state;
    const first = new Trainer({ ...config, steps: 9 });
    for (const _ of first) void _;
    const s = first.state();
    const bytes = encodeCheckpoint({
      params: s.params,
      layout: model.layout.toJSON().map((e) => ({ ...e, shape: [...e.shape], tags: [...e.tags] })),
      optimizerState: { opt: s.optState, pending: s.pending, skipped: s.skipped },
      step: s.step,
    });
    const ck = decodeCheckpoint(bytes);
    const saved = ck.optimizerState as { opt: unknown; pending: TrainState['pending']; skipped: number };
    const resumed = train({
      ...config,
      resume: {
        params: ck.params,
        optState: saved.opt,
        step: ck.step,
        pending: saved.pending,
        skipped: saved.skipped,
      },
    }).state;
    t.equal(
      Buffer.compare(Buffer.from(resumed.params.buffer), Buffer.from(full.params.buffer)),
      0,
      `${name}: resumed params identical`,
    );
  }
});

t.test('a bad batch throws a named validation error and changes nothing', async (t) => {
  const good = batchOf(0);
  const inputs = Float32Array.from(good.inputs as Float32Array);
  inputs[3 * 8 + 2] = NaN;
  const trainer = new Trainer({
    model,
    optimizer: adamw({ lr: 0.01 }),
    batchAt: (k) => (k === 1 ? { ...good, inputs } : batchOf(k)),
    batchSpec: spec,
    steps: 5,
    seed: 1,
  });
  trainer.step();
  const before = trainer.state();
  const paramsBefore = before.params.slice();
  let caught: unknown;
  try {
    trainer.step();
  } catch (e) {
    caught = e;
  }
  t.ok(caught instanceof BatchValidationError, 'a BatchValidationError');
  t.match((caught as Error).message, /sample 3/);
  t.equal(trainer.state(), before);
  t.same(Array.from(trainer.state().params), Array.from(paramsBefore));
});

t.test('a non-finite loss skips the step, counts it and never applies it', async (t) => {
  const good = batchOf(0);
  // Finite but enormous inputs overflow the logits: the loss is not finite.
  const huge = Float32Array.from(good.inputs as Float32Array, (v) => v * 3e38);
  const trainer = new Trainer({
    model,
    optimizer: adamw({ lr: 0.01 }),
    batchAt: (k) => (k === 1 ? { ...good, inputs: huge } : batchOf(k)),
    steps: 3,
    seed: 1,
  });
  trainer.step();
  const params = trainer.state().params.slice();
  const m = trainer.step();
  t.equal(m.skipped, true);
  t.equal(trainer.state().skipped, 1);
  t.same(Array.from(trainer.state().params), Array.from(params));
  t.equal(trainer.step().skipped, false);
});

t.test('a small char-GPT on Moby Dick beats the unigram entropy on validation', async (t) => {
  const corpus = loadMobyDick();
  const block = 16;
  const gptModel = buildModel({
    kind: 'gpt',
    vocabSize: corpus.vocabSize,
    blockSize: block,
    nLayer: 1,
    nHead: 2,
    nEmbd: 32,
  });
  const valid = corpus.fixedValidationBatches(4, 32, block, 7);
  const { state } = train({
    model: gptModel,
    optimizer: adamw({ lr: 1e-2, b1: 0.9, b2: 0.95, weightDecay: 0.1 }),
    batchAt: (k) => corpus.trainBatch(32, block, 5, k),
    steps: 200,
    seed: 5,
  });
  const loss = evaluate(gptModel, state.params, valid).loss;
  t.ok(
    loss < corpus.unigramValidationCrossEntropy - 0.25,
    `validation loss ${loss.toFixed(3)} vs unigram ${corpus.unigramValidationCrossEntropy.toFixed(3)} nats`,
  );
});
