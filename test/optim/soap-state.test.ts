/**
 * SOAP's state contract: checkpoint → restore → continue bit-identical, an ArrayPool changes nothing,
 * injectHyperparams-wrapped equals unwrapped, and a non-finite factor or basis skips the step with θ and
 * the state unchanged (in the transformation and in the Trainer).
 */
import { Packr } from 'msgpackr';
import t from 'tap';
import { batchAt, softmaxRegressionData } from '../../src/data/index.js';
import { mlp } from '../../src/nn/models/mlp.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { tensorLayoutOf } from '../../src/nn/tensor-layout.js';
import { ArrayPool } from '../../src/optim/array-pool.js';
import {
  chain,
  injectHyperparams,
  scaleBySoap,
  soap,
  soapSophia,
  type SoapState,
  type GradientTransformation,
  type SoapOptions,
  type SoapSophiaOptions,
  type UpdateExtra,
} from '../../src/optim/index.js';
import { Trainer } from '../../src/train/train.js';
import { firstDifference } from './helpers.js';
import { rng } from './soap-reference.js';

const layout = tensorLayoutOf(mlp({ kind: 'mlp', sizes: [7, 5, 4] }));
const d = layout.reduce((n, s) => n + s.size, 0);
const packr = new Packr({ moreTypes: true, structuredClone: true });

/** Gradients and (every third step) curvature gradients, the same sequence for every run. */
function inputs(steps: number): { g: Float32Array; extra: UpdateExtra }[] {
  const next = rng(17);
  return Array.from({ length: steps }, (_, k) => ({
    g: Float32Array.from({ length: d }, next),
    extra: k % 3 === 0 ? { curvatureGradient: Float32Array.from({ length: d }, next) } : {},
  }));
}

function run(
  opt: GradientTransformation,
  steps: { g: Float32Array; extra: UpdateExtra }[],
  from?: { params: Float32Array; state: unknown },
  pool?: ArrayPool,
): { params: Float32Array; state: unknown; updates: Float32Array[] } {
  let params = from?.params ?? Float32Array.from({ length: d }, (_, i) => Math.sin(i));
  let state = from?.state ?? opt.init(params, layout);
  const updates: Float32Array[] = [];
  for (const { g, extra } of steps) {
    const [u, s] = opt.update(g, state, params, pool ? { ...extra, arrays: pool } : extra);
    params = params.map((p, i) => p + u[i]);
    updates.push(u.slice());
    if (pool) pool.giveUnshared(state, s);
    if (pool) pool.give(u);
    state = s;
  }
  return { params, state, updates };
}

const variants: [string, () => GradientTransformation][] = [
  ['soap', () => soap({ lr: 0.01, preconditionFrequency: 2 })],
  [
    'soapSophia GNB',
    () =>
      soapSophia({
        lr: 0.01,
        preconditionFrequency: 2,
        curvature: 'curvatureGradient',
        factors: 'curvature',
      }),
  ],
  ['soapSophia', () => soapSophia({ lr: 0.01, preconditionFrequency: 3, precondition1d: true })],
];

for (const [name, make] of variants) {
  t.test(`${name}: checkpoint → restore → continue is bit-identical`, async (t) => {
    const steps = inputs(9);
    const full = run(make(), steps);
    const half = run(make(), steps.slice(0, 4));
    const restored = packr.unpack(packr.pack(half.state)) as unknown;
    t.equal(firstDifference(restored, half.state), null, 'the state survives msgpackr unchanged');
    const rest = run(make(), steps.slice(4), { params: half.params, state: restored });
    t.equal(firstDifference(rest.params, full.params), null, 'params');
    t.equal(firstDifference(rest.state, full.state), null, 'state');
  });

  t.test(`${name}: an ArrayPool changes nothing`, async (t) => {
    const steps = inputs(9);
    const plain = run(make(), steps);
    const pooled = run(make(), steps, undefined, new ArrayPool(8, true));
    t.equal(firstDifference(pooled.updates, plain.updates), null, 'updates');
    t.equal(firstDifference(pooled.state, plain.state), null, 'state');
  });
}

t.test('injectHyperparams-wrapped equals unwrapped', async (t) => {
  const steps = inputs(7);
  const soapOpts: SoapOptions = { lr: 0.01, b1: 0.9, preconditionFrequency: 2 };
  const plain = run(soap(soapOpts), steps);
  const wrapped = run(injectHyperparams(soap)(soapOpts), steps);
  t.equal(firstDifference(wrapped.updates, plain.updates), null, 'soap updates');
  const sophiaOpts: SoapSophiaOptions = { lr: 0.01, winRateTarget: 0.7, curvature: 'curvatureGradient' };
  const a = run(soapSophia(sophiaOpts), steps);
  const b = run(injectHyperparams(soapSophia)(sophiaOpts), steps);
  t.equal(firstDifference(b.updates, a.updates), null, 'soapSophia updates');
});

t.test('a non-finite factor skips the step: NaN updates, the given state back', async (t) => {
  const opt = soap({ lr: 0.01, preconditionFrequency: 2 });
  const steps = inputs(3);
  const { params, state } = run(opt, steps);
  // Finite gradients whose outer products overflow float32 (1e25² = 1e50).
  const huge = steps[0].g.map((x) => x * 1e25);
  const [u, s] = opt.update(huge, state as unknown[], params);
  t.ok(
    u.every((x) => Number.isNaN(x)),
    'every update is NaN, so no caller applies it',
  );
  // The alias is a chain (its lr count moves on; callers drop a non-finite step's state anyway); SOAP's
  // own member hands back exactly the state it was given.
  const inner = (state as unknown[])[0];
  t.equal((s as unknown[])[0], inner, 'the SOAP state is the one given');
  const [u2, s2] = scaleBySoap({ preconditionFrequency: 2 }).update(huge, inner as SoapState, params);
  t.ok(u2.every((x) => Number.isNaN(x)) && s2 === inner, 'scaleBySoap: NaN updates, the same state');
  // A refresh step (count 4 → step 4, f = 2) and the first step fail the same way.
  const [u0, s0] = opt.update(huge, opt.init(params, layout), params);
  t.ok(
    u0.every((x) => Number.isNaN(x)),
    'first step: NaN',
  );
  t.equal((s0 as [{ count: number }])[0].count, 0, 'first step: count unchanged');
});

t.test('Trainer: a SOAP step that meets a non-finite basis is skipped and θ kept', async (t) => {
  const data = softmaxRegressionData({ samples: 128, features: 6, classes: 3, seed: 1 });
  const model = buildModel({ kind: 'mlp', sizes: [6, 5, 3], activation: 'tanh' });
  let blowUp = false;
  // Scales the gradient by 1e25 while blowUp is set: finite, but its Shampoo factors overflow.
  const amplify: GradientTransformation<null> = {
    init: () => null,
    update: (g, s) => [blowUp ? g.map((x) => x * 1e25) : g, s],
  };
  const trainer = new Trainer({
    model,
    optimizer: chain(amplify, soap({ lr: 0.01, preconditionFrequency: 2 })),
    batchAt: (k) => batchAt(data.dataset, { batchSize: 16, seed: 2 }, k),
    steps: 6,
    seed: 1,
  });
  trainer.step();
  trainer.step();
  const before = trainer.state();
  blowUp = true;
  const m = trainer.step();
  blowUp = false;
  t.equal(m.skipped, true, 'skipped');
  t.equal(firstDifference(trainer.state().params, before.params), null, 'θ unchanged');
  t.equal(firstDifference(trainer.state().optState, before.optState), null, 'optimizer state unchanged');
  t.equal(trainer.step().skipped, false, 'the next step goes on');
});
