import t from 'tap';
import { ArrayPool, float32ArraysOf } from '../../src/optim/array-pool.js';
import {
  adahessian,
  adamw,
  lion,
  sgd,
  sophiaG,
  sophiaH,
  type GradientTransformation,
} from '../../src/optim/index.js';
import { applyStep } from '../../src/step/apply.js';
import { type PendingEstimate, type StepState } from '../../src/step/records.js';
import { firstDifference } from './helpers.js';

t.test('take hands back what was given, and a new zeroed array when none is spare', (t) => {
  const pool = new ArrayPool(8, false);
  const a = pool.take(5);
  t.same(Array.from(a), [0, 0, 0, 0, 0]);
  a.fill(3);
  pool.give(a);
  t.equal(pool.size, 1);
  t.equal(pool.take(4).length, 4, 'another length gets its own array');
  t.equal(pool.take(5), a, 'the spare array of that length');
  t.not(pool.take(5), a, 'handed out once only');
  t.end();
});

t.test('poisoned: a recycled array comes back NaN-filled', (t) => {
  const pool = new ArrayPool(8, true);
  const a = new Float32Array([1, 2, 3]);
  pool.give(a);
  t.ok(pool.take(3).every(Number.isNaN));
  t.end();
});

t.test('only whole, unshared buffers are taken, each once, and a bounded number of them', (t) => {
  const pool = new ArrayPool(2, false);
  const whole = new Float32Array(8);
  pool.give(whole.subarray(2, 6));
  pool.give(new Float32Array(new SharedArrayBuffer(16)));
  pool.give(new Float32Array(0));
  t.equal(pool.size, 0, 'views, shared memory and empty arrays are refused');
  const a = new Float32Array(3);
  pool.give(a);
  pool.give(a);
  t.equal(pool.size, 1, 'the same array given twice is kept once');
  t.equal(pool.take(3), a);
  t.not(pool.take(3), a, 'so it is not handed out twice');
  for (let i = 0; i < 5; i++) pool.give(new Float32Array(3));
  t.equal(pool.size, 2, 'at most perLength spares of one length');
  t.end();
});

t.test('giveUnshared keeps the arrays the live state still holds', (t) => {
  const pool = new ArrayPool(8, false);
  const shared = new Float32Array(4);
  const dead = { m: new Float32Array(4), h: shared, nested: [{ v: new Float32Array(4) }], n: 3 };
  const live = { m: new Float32Array(4), h: shared };
  pool.giveUnshared(dead, live);
  t.equal(pool.size, 2, 'm and the nested v');
  const got = [pool.take(4), pool.take(4)];
  t.ok(got.includes(dead.m) && got.includes(dead.nested[0].v));
  t.notOk(got.includes(shared));
  t.end();
});

t.test('float32ArraysOf walks plain objects and arrays', (t) => {
  const mu = new Float32Array([1, 2]);
  const state = { count: 2, parts: [{ mu }, 'x', [mu]], idx: new Int32Array([7]) };
  t.same(float32ArraysOf(state), [mu, mu], 'every Float32Array, as often as it occurs; no other typed array');
  t.end();
});

// The pipeline's coordinator steps with a pool; the synchronous loop without. Every optimizer must give
// the same parameters and states either way, bit for bit, including after a skipped step.
const D = 301;
const optimizers: [string, () => GradientTransformation<unknown>, boolean][] = [
  ['adamw', () => adamw({ lr: 1e-2 }), false],
  ['sophiaG', () => sophiaG({ lr: 1e-2 }), true],
  ['sophiaG win-rate groups', () => sophiaG({ lr: 1e-2, winRateTarget: 0.5, groups: [[10, 200]] }), true],
  ['sophiaH', () => sophiaH({ lr: 1e-2 }), true],
  ['adahessian', () => adahessian({ lr: 1e-2 }), true],
  ['lion', () => lion({ lr: 1e-3, weightDecay: 0.1 }), false],
  ['sgd momentum nesterov', () => sgd({ lr: 1e-2, momentum: 0.9, nesterov: true }), false],
];

const vector = (seed: number, scale: number) =>
  Float32Array.from({ length: D }, (_, i) => Math.sin(seed * 7.1 + i * 0.37) * scale);

function run(make: () => GradientTransformation<unknown>, curvature: boolean, pool?: ArrayPool) {
  const opt = make();
  const params = vector(0, 0.5);
  const state: StepState<unknown> = { params, optState: opt.init(params), step: 0, pending: [], skipped: 0 };
  for (let k = 0; k < 14; k++) {
    const grad = vector(k + 1, 0.1);
    // Step 6's gradient is non-finite: skipped before the update. Step 9's estimate is non-finite.
    if (k === 6) grad[17] = NaN;
    const due: PendingEstimate | null =
      curvature && (k % 3 === 0 || k === 9)
        ? {
            diag: vector(k + 50, 2).map((v, i) => (k === 9 && i === 3 ? Infinity : Math.abs(v))),
            launchedAt: k,
          }
        : null;
    if (due) state.pending.push(due);
    applyStep(state, opt, { loss: 1, grad, nonFinite: false }, 8, due, pool);
    // The coordinator gives its reduced gradient back once the step is applied.
    pool?.give(grad);
  }
  return state;
}

for (const [name, make, curvature] of optimizers) {
  t.test(`${name}: stepping with a recycling pool changes no bit`, (t) => {
    const pool = new ArrayPool(8, true);
    const plain = run(make, curvature);
    const pooled = run(make, curvature, pool);
    t.equal(pooled.skipped, plain.skipped, 'the same steps skipped');
    t.ok(plain.skipped >= 1, 'a step was skipped');
    t.equal(firstDifference(pooled.params, plain.params), null, 'parameters');
    t.equal(firstDifference(pooled.optState, plain.optState), null, 'optimizer state');
    t.ok(pool.size > 0, 'arrays were recycled');
    t.end();
  });
}

t.test('a non-finite update recycles what it made and leaves the state as it was', (t) => {
  const pool = new ArrayPool(8, true);
  const opt = sgd({ lr: 1e38, momentum: 0.5 });
  const params = vector(0, 0.5);
  const state: StepState<unknown> = { params, optState: opt.init(params), step: 0, pending: [], skipped: 0 };
  const before = structuredClone({ params: state.params, optState: state.optState });
  const m = applyStep(state, opt, { loss: 1, grad: vector(1, 100), nonFinite: false }, 8, null, pool);
  t.ok(m.skipped, 'the overflowing update is skipped');
  t.equal(firstDifference(state.params, before.params), null, 'parameters unchanged');
  t.equal(firstDifference(state.optState, before.optState), null, 'state unchanged');
  t.ok(pool.size >= 2, 'the new trace and the updates were recycled');
  t.end();
});
