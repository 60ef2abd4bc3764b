import t from 'tap';
import { hvpPair, hvpPairDirection } from '../../src/curvature/hvp-pair.js';
import { initialParams, lossFunction } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { scaleByPsgdKron } from '../../src/optim/index.js';
import type { GradientTransformation, UpdateExtra } from '../../src/optim/index.js';
import { Tensor, add, exp, matmul, mul, reshape, sum } from '../../src/tensor/index.js';
import { valueAndGrad } from '../../src/tensor/autodiff.js';
import { estimateCurvature, resolveCurvature } from '../../src/step/curvature-schedule.js';
import { Trainer } from '../../src/train/train.js';
import { batchOf, modelSpec } from '../pipeline/fixtures.js';

const f64 = (a: ArrayLike<number>, shape: number[]) => new Tensor(Float64Array.from(a), shape);

/** ∇f along v by central differences: (∇f(x + εv) − ∇f(x − εv)) / 2ε, float64. */
function centralDifference(f: (x: Tensor) => Tensor, x: Float64Array, v: ArrayLike<number>, eps: number) {
  const grad = (s: number) =>
    valueAndGrad(f)(
      f64(
        x.map((xi, i) => xi + s * eps * v[i]),
        [x.length],
      ),
    )[1].data;
  const gp = grad(1);
  const gm = grad(-1);
  return Float64Array.from(gp, (g, i) => (g - gm[i]) / (2 * eps));
}

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    err = Math.max(err, Math.abs(a[i] - b[i]));
  }
  return err / scale;
}

t.test('hv is the exact H·v: analytic on a non-quadratic function, central differences agree', async (t) => {
  // f(x) = ½xᵀAx + 0.1·Σx³ + 0.2·Σexp(x), so H·v = A·v + 0.6·x⊙v + 0.2·exp(x)⊙v.
  const n = 5;
  const A = Float64Array.from({ length: n * n }, (_, k) => {
    const [i, j] = [Math.floor(k / n), k % n];
    return i === j ? 2 + i : 0.3 / (1 + i + j);
  });
  const At = f64(A, [n, n]);
  const f = (x: Tensor) =>
    add(
      add(
        mul(sum(mul(x, reshape(matmul(At, reshape(x, [n, 1])), [n]))), 0.5),
        mul(sum(mul(mul(x, x), x)), 0.1),
      ),
      mul(sum(exp(x)), 0.2),
    );
  const x = Float64Array.from([0.3, -0.5, 1.1, 0.2, -0.9]);
  const p = hvpPair(f, f64(x, [n]), { seed: 3, step: 7 });
  t.ok(p.v instanceof Float64Array && p.hv instanceof Float64Array, 'the dtype of the parameters');
  const want = Float64Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < n; j++) s += A[i * n + j] * p.v[j];
    return s + 0.6 * x[i] * p.v[i] + 0.2 * Math.exp(x[i]) * p.v[i];
  });
  t.ok(maxRelErr(p.hv, want) < 1e-12, `analytic H·v (${maxRelErr(p.hv, want)})`);
  const fd = centralDifference(f, x, p.v, 1e-5);
  t.ok(maxRelErr(p.hv, fd) < 1e-7, `central differences (${maxRelErr(p.hv, fd)})`);
  t.same(
    Array.from(p.v),
    Array.from(hvpPairDirection(new Float64Array(n), 3, 7)),
    'v = rng(seed, hvp-pair, step)',
  );
});

t.test('on a float64 MLP the pair matches central differences; deterministic for (seed, step)', async (t) => {
  const model = buildModel(modelSpec);
  const b = batchOf(0);
  const f = lossFunction(
    model,
    { data: Float64Array.from(b.inputs), shape: b.inputShape },
    b.targets as Int32Array,
  );
  const x = Float64Array.from(initialParams(model, 1) as Float32Array);
  const p = hvpPair(f, f64(x, [x.length]), { seed: 5, step: 2 });
  const fd = centralDifference(f, x, p.v, 1e-5);
  t.ok(maxRelErr(p.hv, fd) < 1e-6, `central differences (${maxRelErr(p.hv, fd)})`);
  const again = hvpPair(f, f64(x, [x.length]), { seed: 5, step: 2 });
  t.same(Array.from(again.hv), Array.from(p.hv), 'same (seed, step): same pair');
  const other = hvpPair(f, f64(x, [x.length]), { seed: 5, step: 3 });
  t.notSame(Array.from(other.v), Array.from(p.v), 'another step: another direction');
  // The schedule's estimate (float32, as training runs it): an empty diagonal and the pair.
  const c = resolveCurvature({ estimator: 'hvp-pair', every: 2 });
  const e = estimateCurvature(c, model, Float32Array.from(x), b, 5, 2);
  t.equal(e.diag.length, 0, 'no diagonal');
  t.same(Array.from(e.pair!.v), Array.from(hvpPairDirection(new Float32Array(x.length), 5, 2)));
  t.ok(
    maxRelErr(e.pair!.hv, p.hv) < 1e-4,
    `float32 estimate ≈ float64 pair (${maxRelErr(e.pair!.hv, p.hv)})`,
  );
});

t.test(
  'Trainer hands the pair to the optimizer as extra.hessianPair on the step that applies it',
  async (t) => {
    const model = buildModel(modelSpec);
    const seen: { step: number; params: Float32Array; extra?: UpdateExtra }[] = [];
    const inner = scaleByPsgdKron({ mode: 'hessian' });
    let step = 0;
    const spy: GradientTransformation<unknown> = {
      init: (p, layout) => inner.init(p, layout),
      update: (g, s, p, extra) => {
        seen.push({ step: step++, params: p!.slice(), ...(extra ? { extra } : {}) });
        return inner.update(g, s as never, p, extra);
      },
    };
    const trainer = new Trainer({
      model,
      optimizer: spy,
      batchAt: batchOf,
      steps: 6,
      seed: 5,
      curvature: { estimator: 'hvp-pair', every: 2, staleness: 1 },
    });
    const metrics = [...trainer];
    t.same(
      metrics.map((m) => m.curvatureStaleness ?? null),
      [null, null, null, 1, null, 1],
      'launched at 2 and 4, applied one step later',
    );
    for (const s of seen) {
      const pair = s.extra?.hessianPair;
      t.equal(pair !== undefined, s.step === 3 || s.step === 5, `step ${s.step}: a pair exactly when due`);
      t.equal(s.extra?.hessianDiag, undefined, 'never a diagonal');
      if (!pair) continue;
      const launch = s.step - 1;
      const want = estimateCurvature(
        resolveCurvature({ estimator: 'hvp-pair' }),
        model,
        seen[launch].params,
        batchOf(launch),
        5,
        launch,
      ).pair!;
      t.same(Array.from(pair.v), Array.from(want.v), `step ${s.step}: v of the launch step`);
      t.same(Array.from(pair.hv), Array.from(want.hv), `step ${s.step}: H·v at θ of the launch step`);
    }
    t.equal((trainer.state().optState as { scaled: boolean }).scaled, true, 'PSGD fitted from the pairs');
  },
);
