import t from 'tap';
import { Packr } from 'msgpackr';
import { ArrayPool } from '../../src/optim/array-pool.js';
import type { ChainState, GradientTransformation, PsgdKronOptions } from '../../src/optim/index.js';
import { applyUpdates, injectHyperparams, psgdKron, scaleByPsgdKron } from '../../src/optim/index.js';
import { applyStep } from '../../src/step/apply.js';
import { type StepState } from '../../src/step/records.js';
import { firstDifference } from './helpers.js';
import { SIZE, gradient, layout, pairAt } from './psgd-problem.js';

const packr = new Packr({ moreTypes: true, structuredClone: true });
const MODES: PsgdKronOptions[] = [
  { mode: 'whitening', lr: 0.01, weightDecay: 0.1, updateProbability: 0.5 },
  { mode: 'hessian', lr: 0.3 },
];

/** A loop over the test problem: a pair every other step (Hessian mode reads it, whitening ignores it). */
function run<S>(
  opt: GradientTransformation<S>,
  from: { x: Float32Array; state: S },
  t0: number,
  t1: number,
  arrays?: ArrayPool,
): { x: Float32Array; state: S; updates: Float32Array[] } {
  let { x, state } = from;
  const updates: Float32Array[] = [];
  for (let k = t0; k < t1; k++) {
    const extra = { ...(k % 2 === 0 ? { hessianPair: pairAt(k) } : {}), ...(arrays ? { arrays } : {}) };
    const [u, next] = opt.update(gradient(x), state, x, extra);
    updates.push(u.slice());
    x = applyUpdates(x, u);
    if (arrays) {
      // What a loop that owns its states does (step-math.ts): the replaced state and the applied updates.
      arrays.giveUnshared(state, next);
      if (opt.freshUpdates) arrays.give(u);
    }
    state = next;
  }
  return { x, state, updates };
}

const fresh = <S>(opt: GradientTransformation<S>) => ({
  x: new Float32Array(SIZE),
  state: opt.init(new Float32Array(SIZE), layout),
});

for (const options of MODES) {
  t.test(`${options.mode}: msgpackr checkpoint → restore → continue is bit-identical`, async (t) => {
    const opt = psgdKron(options);
    const whole = run(opt, fresh(opt), 0, 12);
    const half = run(opt, fresh(opt), 0, 7);
    const restored = packr.unpack(packr.pack(half.state)) as ChainState;
    t.equal(firstDifference(restored, half.state), null, 'the state survives msgpack unchanged');
    const rest = run(psgdKron(options), { x: half.x, state: restored }, 7, 12);
    t.equal(firstDifference(rest.x, whole.x), null, 'parameters');
    t.equal(firstDifference(rest.state, whole.state), null, 'optimizer state');
  });

  t.test(`${options.mode}: with and without an ArrayPool (poisoned) is bit-identical`, async (t) => {
    const opt = psgdKron(options);
    const plain = run(opt, fresh(opt), 0, 10);
    const pooled = run(opt, fresh(opt), 0, 10, new ArrayPool(8, true));
    t.equal(firstDifference(pooled.x, plain.x), null, 'parameters');
    t.equal(firstDifference(pooled.updates, plain.updates), null, 'updates');
  });

  t.test(`${options.mode}: injectHyperparams-wrapped equals unwrapped`, async (t) => {
    const plain = run(psgdKron(options), fresh(psgdKron(options)), 0, 10);
    const wrapped = injectHyperparams(psgdKron)(options);
    const w = run(wrapped, fresh(wrapped), 0, 10);
    t.equal(firstDifference(w.updates, plain.updates), null, 'updates');
  });
}

t.test('errors name the option; no layout, no init', async (t) => {
  t.throws(() => psgdKron().init(new Float32Array(4)), /psgdKron needs the parameter layout/);
  t.throws(() => scaleByPsgdKron().init(new Float32Array(4)), /needs the parameter layout/);
  const bad: [PsgdKronOptions, RegExp][] = [
    [{ mode: 'newton' as never }, /option 'mode'/],
    [{ precondLr: 0 }, /option 'precondLr'/],
    [{ b1: 1 }, /option 'b1'/],
    [{ precondInitScale: -1 }, /option 'precondInitScale'/],
    [{ updateProbability: 0 }, /option 'updateProbability'/],
    [{ updateProbability: 1.5 }, /option 'updateProbability'/],
    [{ maxSize: 2.5 }, /option 'maxSize'/],
    [{ memorySave: 'some' as never }, /option 'memorySave'/],
    [{ lipschitzBeta: 1 }, /option 'lipschitzBeta'/],
    [{ clipUpdateRms: 0 }, /option 'clipUpdateRms'/],
    [{ damping: -1 }, /option 'damping'/],
    [{ seed: 0.5 }, /option 'seed'/],
    [{ lr: -1 }, /option 'lr'/],
    [{ weightDecay: -1 }, /option 'weightDecay'/],
    [{ precondLR: 0.1 } as never, /unknown option 'precondLR'/],
  ];
  for (const [o, re] of bad) t.throws(() => psgdKron(o), re, JSON.stringify(o));
  const tx = scaleByPsgdKron({ mode: 'hessian' });
  const s = tx.init(new Float32Array(SIZE), layout);
  const short = { v: new Float32Array(3), hv: new Float32Array(3) };
  t.throws(() => tx.update(new Float32Array(SIZE), s, undefined, { hessianPair: short }), /hessianPair/);
  t.throws(() => tx.update(new Float32Array(3), s), /state.mu must be a Float32Array of 3/);
  const sched = scaleByPsgdKron({ updateProbability: () => 0 });
  t.throws(
    () => sched.update(new Float32Array(SIZE), sched.init(new Float32Array(SIZE), layout)),
    /option 'updateProbability' gave 0 at step 0/,
  );
});

t.test('a factor update that overflows skips the step: θ and state unchanged', async (t) => {
  // hv ≈ 1e30 makes A·Aᵀ overflow float32: the factors turn non-finite, the update comes back NaN.
  const opt = psgdKron({ mode: 'hessian', precondInitScale: 1, lr: 0.1 });
  const big = pairAt(0);
  big.hv = big.hv.map((x) => x * 1e30);
  const [u] = opt.update(
    gradient(new Float32Array(SIZE)),
    opt.init(new Float32Array(SIZE), layout),
    undefined,
    {
      hessianPair: big,
    },
  );
  t.ok(
    u.some((x) => Number.isNaN(x)),
    'non-finite update',
  );
  // The loop (step-math.ts, shared by referenceLoop and the pipeline; Trainer has the same rule).
  for (const pair of [big, { v: pairAt(0).v, hv: pairAt(0).hv.map((x, i) => (i === 3 ? NaN : x)) }]) {
    const params = Float32Array.from({ length: SIZE }, (_, i) => i / SIZE);
    const optState = opt.init(params, layout);
    const due = { diag: new Float32Array(0), pair, launchedAt: 0 };
    const state: StepState<ChainState> = {
      params: params.slice(),
      optState,
      step: 0,
      pending: [due],
      skipped: 0,
    };
    const grad = gradient(params);
    const m = applyStep(state, opt, { loss: 1, grad, nonFinite: false }, 1, due);
    t.equal(m.skipped, true, 'skipped');
    t.equal(state.optState, optState, 'state kept');
    t.equal(firstDifference(state.params, params), null, 'θ unchanged');
    t.same(state.pending, [], 'the estimate is dropped with its step');
  }
});
