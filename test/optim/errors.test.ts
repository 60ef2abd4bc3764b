/** Bad options, bad inputs and bad states: clear errors that name the culprit, and nothing changed. */
import t from 'tap';
import {
  addDecayedWeights,
  adahessian,
  adamw,
  clipByGlobalNorm,
  injectHyperparams,
  lion,
  linearSchedule,
  mfac,
  scaleByLearningRate,
  setHyperparam,
  sgd,
  sophiaG,
  sophiaH,
  warmupCosineSchedule,
  type GradientTransformation,
  type InjectedState,
} from '../../src/optim/index.js';
import { firstDifference } from './helpers.js';

// Deliberately malformed options are passed through `unknown`, as a JavaScript caller or a daemon would.
const bad = (f: (o: never) => unknown, options: unknown) => () => f(options as never);

const badOptions: [string, () => unknown, RegExp][] = [
  ['sgd lr < 0', bad(sgd, { lr: -1 }), /sgd: option 'lr' .* got -1/],
  ['sgd momentum 1', bad(sgd, { momentum: 1 }), /sgd: option 'momentum' .*\[0, 1\).* got 1/],
  [
    'sgd nesterov without momentum',
    bad(sgd, { nesterov: true }),
    /sgd: option 'nesterov' requires option 'momentum'/,
  ],
  ['adamw eps < 0', bad(adamw, { eps: -1e-8 }), /adamw: option 'eps' .* got -1e-8/],
  ['adamw b2 = 1', bad(adamw, { b2: 1 }), /adamw: option 'b2' .* got 1/],
  ['lion b1 < 0', bad(lion, { b1: -0.1 }), /lion: option 'b1' .* got -0.1/],
  ['lion weightDecay NaN', bad(lion, { weightDecay: NaN }), /lion: option 'weightDecay' .* got NaN/],
  ['sophiaG rho < 0', bad(sophiaG, { rho: -0.04 }), /sophiaG: option 'rho' .* got -0.04/],
  ['sophiaG b1 > 1', bad(sophiaG, { b1: 1.5 }), /sophiaG: option 'b1' .* got 1.5/],
  ['sophiaG lr a string', bad(sophiaG, { lr: 'fast' }), /sophiaG: option 'lr' .* got fast/],
  ['sophiaG misspelt option', bad(sophiaG, { learningRate: 1 }), /sophiaG: unknown option 'learningRate'/],
  ['sophiaH gamma 0', bad(sophiaH, { gamma: 0 }), /sophiaH: option 'gamma' .* got 0/],
  ['sophiaH clip < 0', bad(sophiaH, { clipThreshold: -1 }), /sophiaH: option 'clipThreshold' .* got -1/],
  [
    'adahessian power > 1',
    bad(adahessian, { hessianPower: 1.5 }),
    /adahessian: option 'hessianPower' .* got 1.5/,
  ],
  [
    'adahessian block length not dividing',
    bad(adahessian, { blocks: [{ offset: 0, shape: [2, 3], kind: 'dense', blockLength: 4 }] }),
    /adahessian: option 'blocks\[0\].blockLength' 4 does not divide the tensor size 6/,
  ],
  [
    'adahessian unknown block kind',
    bad(adahessian, { blocks: [{ offset: 0, shape: [4], kind: 'sparse' }] }),
    /adahessian: option 'blocks\[0\].kind' .* got sparse/,
  ],
  [
    'adahessian overlapping blocks',
    bad(adahessian, {
      blocks: [
        { offset: 0, shape: [2, 2], kind: 'dense' },
        { offset: 3, shape: [2], kind: 'vector' },
      ],
    }),
    /adahessian: option 'blocks' has overlapping tensors at offsets 0 \(size 4\) and 3/,
  ],
  [
    'adahessian conv of rank 2',
    bad(adahessian, { blocks: [{ offset: 0, shape: [2, 2], kind: 'conv' }] }),
    /conv block/,
  ],
  ['mfac m 0', bad(mfac, { m: 0 }), /mfac: option 'm' must be an integer .* got 0/],
  ['mfac m fractional', bad(mfac, { m: 2.5 }), /mfac: option 'm' .* got 2.5/],
  ['mfac damp 0', bad(mfac, { damp: 0 }), /mfac: option 'damp' .* got 0/],
  ['mfac momentum 1', bad(mfac, { momentum: 1 }), /mfac: option 'momentum' .* got 1/],
  [
    'warmupCosine decay shorter than warmup',
    () => warmupCosineSchedule({ peak: 1, warmupSteps: 10, decaySteps: 5 }),
    /warmupCosineSchedule: option 'decaySteps' .* got 5/,
  ],
  [
    'linearSchedule zero steps',
    () => linearSchedule({ init: 1, end: 0, transitionSteps: 0 }),
    /option 'transitionSteps' .* got 0/,
  ],
  ['clipByGlobalNorm 0', () => clipByGlobalNorm(0), /clipByGlobalNorm: option 'maxNorm' .* got 0/],
  ['addDecayedWeights < 0', () => addDecayedWeights(-1), /addDecayedWeights: option 'weightDecay' .* got -1/],
  ['injected bad value', () => injectHyperparams(sophiaG)({ b2: 2 }), /sophiaG: option 'b2' .* got 2/],
];

t.test('bad options throw errors naming the option and the value', async (t) => {
  for (const [name, fn, message] of badOptions) t.throws(fn, { message }, name);
});

interface Alias {
  name: string;
  make: () => GradientTransformation;
  extra: () => { batchSize?: number; hessianDiag?: Float32Array };
}
const d = 4;
const aliases: Alias[] = [
  { name: 'sgd', make: () => sgd({ lr: 0.1, weightDecay: 0.1 }), extra: () => ({}) },
  { name: 'adamw', make: () => adamw(), extra: () => ({}) },
  { name: 'lion', make: () => lion({ weightDecay: 0.1 }), extra: () => ({}) },
  {
    name: 'sophiaG',
    make: () => sophiaG(),
    extra: () => ({ batchSize: 8, hessianDiag: new Float32Array(d).fill(1) }),
  },
  { name: 'sophiaH', make: () => sophiaH(), extra: () => ({ hessianDiag: new Float32Array(d).fill(1) }) },
  {
    name: 'adahessian',
    make: () => adahessian(),
    extra: () => ({ hessianDiag: new Float32Array(d).fill(1) }),
  },
  { name: 'mfac', make: () => mfac({ m: 3, weightDecay: 0.1 }), extra: () => ({}) },
];

for (const alias of aliases) {
  t.test(`${alias.name}: mismatched lengths are refused and the state is left unchanged`, async (t) => {
    const opt = alias.make();
    const params = Float32Array.from([1, -2, 3, -4]);
    let state = opt.init(params);
    // One good step first, so the state holds non-trivial values.
    [, state] = opt.update(Float32Array.from([0.1, 0.2, -0.3, 0.4]), state, params, alias.extra());
    const snapshot = structuredClone(state);

    t.throws(
      () => opt.update(new Float32Array(3), state, params, alias.extra()),
      { message: /gradient length 3 does not match (state|params) length 4/ },
      'short gradient',
    );
    t.throws(
      () => opt.update(new Float32Array(5), state, params, alias.extra()),
      { message: /gradient length 5 does not match (state|params) length 4/ },
      'long gradient',
    );
    const extra = alias.extra();
    if (extra.hessianDiag) {
      t.throws(
        () => opt.update(new Float32Array(d), state, params, { ...extra, hessianDiag: new Float32Array(2) }),
        { message: /extra\.hessianDiag length 2 does not match state length 4/ },
        'short curvature estimate',
      );
    }
    if (alias.name !== 'sophiaH' && alias.name !== 'adahessian' && alias.name !== 'adamw') {
      // These read params (weight decay): a params vector of the wrong size is named too.
      t.throws(
        () => opt.update(new Float32Array(d), state, new Float32Array(6), alias.extra()),
        { message: /gradient length 4 does not match params length 6/ },
        'wrong params length',
      );
    }
    t.equal(firstDifference(state, snapshot), null, 'state unchanged by the failed updates');
    t.same(Array.from(params), [1, -2, 3, -4], 'params unchanged');
  });
}

t.test('update refuses a state from another optimizer', async (t) => {
  const params = new Float32Array(4);
  const adamState = adamw().init(params);
  t.throws(() => sophiaG().update(new Float32Array(4), adamState, params, { batchSize: 1 }), {
    message: /sophiaG: state/,
  });
  t.throws(() => mfac({ m: 2 }).update(new Float32Array(4), adamState, params), { message: /mfac: state/ });
  t.throws(() => adamw().update(new Float32Array(4), {} as never, params), {
    message: /chain: state must be an array of 3/,
  });
});

t.test('sophiaG needs the batch size every step', async (t) => {
  const opt = sophiaG();
  const params = new Float32Array(2);
  const state = opt.init(params);
  t.throws(() => opt.update(new Float32Array(2), state, params), {
    message: /sophiaG: extra\.batchSize .* got undefined/,
  });
  t.throws(() => opt.update(new Float32Array(2), state, params, { batchSize: 0 }), {
    message: /extra\.batchSize .* got 0/,
  });
});

t.test('adahessian needs an estimate on its first step', async (t) => {
  const opt = adahessian();
  const params = new Float32Array(2);
  t.throws(() => opt.update(new Float32Array(2), opt.init(params), params), {
    message: /adahessian: the first step needs a curvature estimate in extra\.hessianDiag/,
  });
});

t.test('adahessian blocks must fit the parameter vector', async (t) => {
  const opt = adahessian({ blocks: [{ offset: 2, shape: [2, 2], kind: 'dense' }] });
  t.throws(() => opt.init(new Float32Array(5)), {
    message: /adahessian: option 'blocks' has a tensor at offset 2 of size 4 beyond the parameter length 5/,
  });
});

t.test('weight-decay masks must match the parameters', async (t) => {
  const opt = adamw({ mask: new Uint8Array(3) });
  const params = new Float32Array(4);
  t.throws(() => opt.update(new Float32Array(4), opt.init(params), params), {
    message: /addDecayedWeights: mask length 3 does not match params length 4/,
  });
  const needsParams = addDecayedWeights(0.1);
  t.throws(() => needsParams.update(new Float32Array(2), {}), {
    message: /addDecayedWeights: params are required/,
  });
});

t.test('a schedule returning a bad value is reported with its step', async (t) => {
  const opt = scaleByLearningRate((step) => (step < 1 ? 0.1 : NaN));
  const [, s] = opt.update(new Float32Array(1), opt.init(new Float32Array(1)));
  t.throws(() => opt.update(new Float32Array(1), s), { message: /schedule for 'lr' returned NaN at step 1/ });
});

t.test('setHyperparam validates the name and the value', async (t) => {
  const opt = injectHyperparams(sophiaG)({ lr: 1e-3, b1: 0.9, mask: undefined });
  const params = new Float32Array(2);
  const state = opt.init(params) as InjectedState;
  t.same(Object.keys(state.hyperparams).sort(), ['b1', 'lr'], 'numbers are injected, undefined stays out');
  t.throws(() => setHyperparam(state, 'lrr', 1), {
    message: /unknown hyperparameter 'lrr' \(injected: lr, b1\)/,
  });
  t.throws(() => setHyperparam(state, 'lr', Infinity), { message: /value for 'lr' must be a finite number/ });
  t.throws(() => setHyperparam({} as InjectedState, 'lr', 1), { message: /not an injectHyperparams state/ });

  // A value out of range is reported by the optimizer at the next update, naming the option.
  const broken = setHyperparam(state, 'b1', 2);
  t.throws(() => opt.update(new Float32Array(2), broken, params, { batchSize: 1 }), {
    message: /sophiaG: option 'b1' .* got 2/,
  });

  const scheduled = injectHyperparams(adamw)({ lr: (step: number) => 0.1 / (step + 1) });
  const s0 = scheduled.init(params);
  t.equal(s0.hyperparams.lr, 0.1, 'schedule value recorded at init');
  t.throws(() => setHyperparam(s0, 'lr', 1), { message: /'lr' is driven by a schedule/ });
  const [, s1] = scheduled.update(new Float32Array(2), s0, params);
  const [, s2] = scheduled.update(new Float32Array(2), s1, params);
  t.same([s1.hyperparams.lr, s2.hyperparams.lr], [0.1, 0.05], 'the value used at each step is recorded');
});
