/**
 * Table-driven contract every alias must meet: convergence on an ill-conditioned quadratic and on
 * Rosenbrock (analytic gradients; analytic curvature every k steps for the second-order methods), finite
 * and correctly shaped state, injectHyperparams-wrapped equal to unwrapped bit for bit, setHyperparam
 * taking effect, and checkpoint (msgpackr) → restore → continue equal to an uninterrupted run bit for bit.
 */
import t from 'tap';
import { Packr } from 'msgpackr';
import {
  adahessian,
  adamw,
  applyUpdates,
  injectHyperparams,
  lion,
  mfac,
  setHyperparam,
  sgd,
  sophiaG,
  sophiaH,
  warmupCosineSchedule,
  type GradientTransformation,
  type InjectedState,
  type ScalarOrSchedule,
} from '../../src/optim/index.js';
import {
  allFinite,
  extraFor,
  firstDifference,
  forEachTypedArray,
  quadratic,
  rosenbrock,
  runSteps,
  type Problem,
  type RunOptions,
} from './helpers.js';

interface Entry {
  name: string;
  // Options objects differ per alias; the table only passes them back to their own factory.
  factory: (options: Record<string, unknown>) => GradientTransformation;
  options: Record<string, unknown>;
  run: RunOptions;
  steps: number;
  /** Rows of M-FAC's window appear as gradients arrive, so its state grows until the window is full. */
  growsUntil?: number;
}

const cosine = (peak: number, steps: number): ScalarOrSchedule =>
  warmupCosineSchedule({ peak, warmupSteps: 0, decaySteps: steps, endValue: peak * 1e-3 });

const STEPS = 2000;
const entries: Entry[] = [
  {
    name: 'sgd',
    factory: sgd,
    options: { lr: 0.001, momentum: 0.9, nesterov: true },
    run: { curvature: 'none', every: 1 },
    steps: STEPS,
  },
  {
    name: 'adamw',
    factory: adamw,
    options: { lr: 0.1, weightDecay: 0 },
    run: { curvature: 'none', every: 1 },
    steps: STEPS,
  },
  {
    name: 'lion',
    factory: lion,
    options: { lr: cosine(0.02, 2 * STEPS) },
    run: { curvature: 'none', every: 1 },
    steps: 2 * STEPS,
  },
  {
    // Sophia-G gets the Gauss-Newton diagonal (what GNB estimates), bs = 1.
    name: 'sophiaG',
    factory: sophiaG,
    options: { lr: 0.08, weightDecay: 0 },
    run: { curvature: 'gaussNewton', every: 5, batchSize: 1 },
    steps: STEPS,
  },
  {
    name: 'sophiaH',
    factory: sophiaH,
    options: { lr: 0.04, weightDecay: 0 },
    run: { curvature: 'hessian', every: 5 },
    steps: STEPS,
  },
  {
    name: 'adahessian',
    factory: adahessian,
    options: { lr: cosine(3, 2 * STEPS) },
    run: { curvature: 'hessian', every: 5 },
    steps: 2 * STEPS,
  },
  {
    name: 'mfac',
    factory: mfac,
    options: { lr: cosine(0.3, STEPS), m: 4, damp: 1, momentum: 0.9 },
    run: { curvature: 'none', every: 1 },
    steps: STEPS,
    growsUntil: 4,
  },
];

const packr = new Packr({ moreTypes: true, structuredClone: true });

/** The structure of a state: typed arrays as "Ctor:length", numbers as "number". */
function signature(value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}:${(value as Float32Array).length}`;
  if (Array.isArray(value)) return value.map(signature);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, signature(v)]));
  }
  return typeof value;
}

function start<S>(opt: GradientTransformation<S>, problem: Problem): { params: Float32Array; state: S } {
  const params: Float32Array = Float32Array.from(problem.x0);
  return { params, state: opt.init(params) };
}

for (const entry of entries) {
  t.test(entry.name, async (t) => {
    const make = () => entry.factory(entry.options);

    for (const [problem, tol] of [
      [quadratic, 1e-3],
      [rosenbrock, 1e-2],
    ] as const) {
      t.test(`converges on ${problem.name}`, async (t) => {
        const opt = make();
        const end = runSteps(opt, problem, start(opt, problem), 0, entry.steps, entry.run);
        const err = Math.max(...Array.from(end.params, (v, i) => Math.abs(v - problem.minimum[i])));
        t.ok(err < tol, `max |x − x*| = ${err} < ${tol} after ${entry.steps} steps`, {
          params: Array.from(end.params),
          f: problem.f(end.params),
        });
        t.ok(problem.f(end.params) < problem.f(Float32Array.from(problem.x0)) * 1e-4, 'loss fell by 10⁴');
      });
    }

    t.test('update is pure: grads, state, params and extra are left untouched', async (t) => {
      const opt = make();
      const s = runSteps(opt, rosenbrock, start(opt, rosenbrock), 0, 10, entry.run);
      const grads = rosenbrock.grad(s.params);
      const extra = extraFor(rosenbrock, s.params, 0, entry.run); // step 0 carries an estimate if any
      const before = structuredClone({ grads, state: s.state, params: s.params, extra });
      const [updates, next] = opt.update(grads, s.state, s.params, extra);
      t.equal(
        firstDifference({ grads, state: s.state, params: s.params, extra }, before),
        null,
        'inputs unchanged',
      );
      t.not(updates, grads, 'updates are a new array');
      t.not(next, s.state, 'a new state object');
      const [again] = opt.update(grads, s.state, s.params, extra);
      t.equal(firstDifference(again, updates), null, 'the same inputs give the same updates');
    });

    t.test('state stays finite and correctly shaped', async (t) => {
      const opt = make();
      const s0 = start(opt, rosenbrock);
      const mid = runSteps(opt, rosenbrock, s0, 0, 40, entry.run);
      const end = runSteps(opt, rosenbrock, mid, 40, 20, entry.run);
      t.ok(allFinite(end.state), 'every number in the state is finite');
      t.same(signature(end.state), signature(mid.state), 'shape unchanged between step 40 and step 60');
      if (entry.growsUntil === undefined) {
        t.same(signature(end.state), signature(s0.state), 'shape equals the initial state');
      }
      let vectors = 0;
      forEachTypedArray(end.state, (path, arr) => {
        if (arr instanceof Float32Array) {
          vectors++;
          t.equal(arr.length, rosenbrock.x0.length, `${path} has one entry per parameter`);
        }
      });
      t.ok(vectors > 0, 'state holds per-parameter vectors');
    });

    t.test('injectHyperparams-wrapped equals unwrapped bit for bit over 20 steps', async (t) => {
      const plain = make();
      const wrapped = injectHyperparams(entry.factory)(entry.options);
      let a = start(plain, rosenbrock);
      let b = start(wrapped, rosenbrock);
      for (let step = 0; step < 20; step++) {
        const extra = extraFor(rosenbrock, a.params, step, entry.run);
        const [ua, sa] = plain.update(rosenbrock.grad(a.params), a.state, a.params, extra);
        const [ub, sb] = wrapped.update(rosenbrock.grad(b.params), b.state, b.params, extra);
        const diff = firstDifference(ua, ub);
        if (diff) {
          t.fail(`updates differ at step ${step + 1}: ${diff}`);
          return;
        }
        a = { params: applyUpdates(a.params, ua), state: sa };
        b = { params: applyUpdates(b.params, ub), state: sb };
      }
      t.equal(firstDifference(a.params, b.params), null, 'params identical');
      t.equal(firstDifference(a.state, b.state.inner), null, 'inner state identical to the plain state');
      t.equal(b.state.count, 20, 'wrapper counted 20 steps');
    });

    t.test('setHyperparam(lr) takes effect at the next update', async (t) => {
      const wrapped = injectHyperparams(entry.factory)({ ...entry.options, lr: 0.01 });
      const s = runSteps(wrapped, rosenbrock, start(wrapped, rosenbrock), 0, 5, entry.run);
      const grads = rosenbrock.grad(s.params);
      const extra = extraFor(rosenbrock, s.params, 5, entry.run);
      const [u1] = wrapped.update(grads, s.state, s.params, extra);
      const doubled: InjectedState = setHyperparam(s.state, 'lr', 0.02);
      t.equal(s.state.hyperparams.lr, 0.01, 'the original state is untouched');
      const [u2, next] = wrapped.update(grads, doubled, s.params, extra);
      t.ok(
        u1.some((v) => v !== 0),
        'the reference update is non-zero',
      );
      // −lr·x rounds the same way for lr and 2·lr (a power-of-two factor), so doubling is exact.
      t.same(
        Array.from(u2),
        Array.from(u1, (v) => 2 * v),
        'doubling lr doubles the update exactly',
      );
      t.equal(next.hyperparams.lr, 0.02, 'the new lr persists in the next state');
    });

    for (const wrap of [false, true]) {
      t.test(
        `checkpoint → restore → continue equals an uninterrupted run${wrap ? ' (injected)' : ''}`,
        async (t) => {
          const opt = wrap ? injectHyperparams(entry.factory)(entry.options) : make();
          const s0 = start(opt, rosenbrock);
          const straight = runSteps(opt, rosenbrock, s0, 0, 20, entry.run);
          const first = runSteps(opt, rosenbrock, s0, 0, 10, entry.run);
          const bytes = packr.pack({ params: first.params, state: first.state });
          const restored = packr.unpack(bytes) as { params: Float32Array; state: unknown };
          t.equal(firstDifference(restored, first), null, 'restored checkpoint equals the saved one');
          const resumed = runSteps(opt, rosenbrock, restored, 10, 10, entry.run);
          t.equal(firstDifference(resumed.params, straight.params), null, 'params identical');
          t.equal(firstDifference(resumed.state, straight.state), null, 'state identical');
        },
      );
    }
  });
}
