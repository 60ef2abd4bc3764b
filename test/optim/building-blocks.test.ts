/** The optax-like pieces the aliases are built from. */
import t from 'tap';
import {
  addDecayedWeights,
  adamw,
  applyUpdates,
  applyUpdatesInPlace,
  chain,
  clipByGlobalNorm,
  constantSchedule,
  findStats,
  globalNorm,
  injectHyperparams,
  linearSchedule,
  scaleByLearningRate,
  sophiaH,
  trace,
  warmupCosineSchedule,
} from '../../src/optim/index.js';
import { assertClose } from './helpers.js';

t.test('schedules', async (t) => {
  t.equal(constantSchedule(0.3)(1234), 0.3, 'constant');
  const lin = linearSchedule({ init: 1, end: 0.2, transitionSteps: 4, transitionBegin: 2 });
  // Held at 1 until step 2, then 1 − 0.2·(step − 2) until step 6, then 0.2.
  assertClose(t, [0, 2, 3, 4, 6, 100].map(lin), [1, 1, 0.8, 0.6, 0.2, 0.2], 'linear with a delayed start');
  const cos = warmupCosineSchedule({ init: 0, peak: 1, warmupSteps: 10, decaySteps: 110, endValue: 0.1 });
  // Warmup: step/10. Decay over 100 steps: 0.1 + 0.9·½(1 + cos(π·(step − 10)/100)).
  assertClose(
    t,
    [0, 5, 10, 60, 110, 500].map(cos),
    [0, 0.5, 1, 0.55, 0.1, 0.1],
    'warmup then cosine: 0 → peak at 10, midpoint (peak + end)/2 at 60, end from 110',
  );
  assertClose(t, [cos(35)], [0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI / 4))], 'a quarter into the decay');
});

t.test('scaleByLearningRate evaluates a schedule at the update count', async (t) => {
  const opt = scaleByLearningRate((step) => [0.5, 0.25, 0.125][step]);
  let state = opt.init(new Float32Array(2));
  const seen: number[][] = [];
  for (let i = 0; i < 3; i++) {
    const [u, s] = opt.update(Float32Array.from([2, -4]), state);
    seen.push(Array.from(u));
    state = s;
  }
  t.same(seen, [
    [-1, 2],
    [-0.5, 1],
    [-0.25, 0.5],
  ]);
  const [u] = scaleByLearningRate(0.5, false).update(Float32Array.from([2]), { count: 0 });
  t.same(Array.from(u), [1], 'flipSign false scales without negating');
});

t.test('clipByGlobalNorm', async (t) => {
  const opt = clipByGlobalNorm(1);
  const g = Float32Array.from([3, 4]);
  const [clipped] = opt.update(g, opt.init(g));
  assertClose(t, clipped, [0.6, 0.8], 'norm 5 scaled to 1');
  t.same(Array.from(g), [3, 4], 'input untouched');
  const [kept] = clipByGlobalNorm(10).update(g, {});
  t.same(Array.from(kept), [3, 4], 'below the limit: unchanged values');
  t.not(kept, g, '... in a new array');
  t.equal(globalNorm(Float32Array.from([1, 2, 2])), 3, 'global norm');
});

t.test('addDecayedWeights with masks', async (t) => {
  const params = Float32Array.from([10, 20, 30]);
  const g = Float32Array.from([1, 1, 1]);
  const [all] = addDecayedWeights(0.1).update(g, {}, params);
  assertClose(t, all, [2, 3, 4], 'g + 0.1θ');
  const [masked] = addDecayedWeights(0.1, Uint8Array.from([1, 0, 1])).update(g, {}, params);
  assertClose(t, masked, [2, 1, 4], 'masked coordinate not decayed');
  const byFn = addDecayedWeights(0.1, (p) => Uint8Array.from(p, (v) => (v > 15 ? 1 : 0)));
  assertClose(t, byFn.update(g, {}, params)[0], [1, 3, 4], 'mask computed from params');
  const [none] = addDecayedWeights(0).update(g, {});
  t.same(Array.from(none), [1, 1, 1], 'wd 0 needs no params and changes nothing');
});

t.test('trace: heavy ball and Nesterov', async (t) => {
  const hb = trace({ decay: 0.5 });
  let s = hb.init(new Float32Array(1));
  let u: Float32Array;
  [u, s] = hb.update(Float32Array.from([1]), s);
  t.same(Array.from(u), [1], 'first trace is the gradient');
  [u, s] = hb.update(Float32Array.from([1]), s);
  t.same(Array.from(u), [1.5], 't = g + 0.5t');
  const nest = trace({ decay: 0.5, nesterov: true });
  const [un] = nest.update(Float32Array.from([1]), nest.init(new Float32Array(1)));
  t.same(Array.from(un), [1.5], 'Nesterov: g + 0.5·(g + 0.5·0)');
});

t.test('chain composes in order', async (t) => {
  const params = Float32Array.from([2, 4]);
  const g = Float32Array.from([1, 2]);
  const decayThenLr = chain(addDecayedWeights(0.5), scaleByLearningRate(0.1));
  const lrThenDecay = chain(scaleByLearningRate(0.1), addDecayedWeights(0.5));
  assertClose(t, decayThenLr.update(g, decayThenLr.init(params), params)[0], [-0.2, -0.4], '−0.1·(g + 0.5θ)');
  assertClose(t, lrThenDecay.update(g, lrThenDecay.init(params), params)[0], [0.9, 1.8], '−0.1·g + 0.5θ');
  t.throws(() => chain(), { message: /chain: needs at least one transformation/ });
});

t.test('applyUpdates and applyUpdatesInPlace', async (t) => {
  const params = Float32Array.from([1, 2]);
  const out = applyUpdates(params, Float32Array.from([0.5, -1]));
  t.same(Array.from(out), [1.5, 1]);
  t.same(Array.from(params), [1, 2], 'applyUpdates leaves params alone');
  const same = applyUpdatesInPlace(params, Float32Array.from([0.5, -1]));
  t.equal(same, params, 'in place returns the same buffer');
  t.same(Array.from(params), [1.5, 1]);
  t.throws(() => applyUpdates(params, new Float32Array(3)), {
    message: /applyUpdates: updates length 3 does not match params length 2/,
  });
});

t.test('findStats reaches Sophia stats through chains and injectHyperparams', async (t) => {
  const params = Float32Array.from([1, 1]);
  const opt = injectHyperparams(sophiaH)({ lr: 0.1 });
  const [, s] = opt.update(Float32Array.from([1, -1]), opt.init(params), params, {
    hessianDiag: Float32Array.from([1e6, 0]),
  });
  const stats = findStats(s);
  t.ok(stats, 'found');
  // h = 0.01·ĥ = (1e4, 0): the first coordinate is far from clipping, the second is clipped (max(0, ε)).
  t.equal(stats!.winRate, 0.5, 'win-rate');
  t.equal(stats!.hMax, 1e4, 'hMax');
  t.equal(findStats(adamw().init(params)), undefined, 'adamw keeps no curvature stats');
});
