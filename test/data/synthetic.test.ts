import t from 'tap';
import {
  logisticGradient,
  logisticHessian,
  logisticLoss,
  logisticRegressionData,
  quadratic,
  randomOrthogonal,
  softmaxRegressionData,
  softmaxRegressionGradient,
  softmaxRegressionHessian,
  softmaxRegressionLoss,
} from '../../src/data/index.js';

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Central-difference Jacobian column j of f at x (f: R^n → R^m), step h. */
function fdColumn(
  f: (x: Float64Array) => ArrayLike<number>,
  x: Float64Array,
  j: number,
  h: number,
): Float64Array {
  const xp = Float64Array.from(x);
  const xm = Float64Array.from(x);
  xp[j] += h;
  xm[j] -= h;
  const fp = f(xp);
  const fm = f(xm);
  const out = new Float64Array(fp.length);
  for (let i = 0; i < fp.length; i++) out[i] = (fp[i] - fm[i]) / (2 * h);
  return out;
}

t.test('randomOrthogonal: QᵀQ = I, seeded, seed-dependent', async (t) => {
  const n = 12;
  const q = randomOrthogonal(n, 5);
  let err = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[k * n + i] * q[k * n + j];
      err = Math.max(err, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  t.ok(err < 1e-13, `max |QᵀQ − I| = ${err}`);
  t.strictSame(randomOrthogonal(n, 5), q);
  t.ok(maxAbs(randomOrthogonal(n, 6).map((v, i) => v - q[i])) > 0.1);
  // Haar: every entry is symmetric about 0. Plain Householder QR (without the sign(R_jj) fix) always
  // gives Q[0][0] < 0, so this catches the bias.
  let positive = 0;
  for (let seed = 0; seed < 400; seed++) if (randomOrthogonal(3, seed)[0] > 0) positive++;
  t.ok(positive > 160 && positive < 240, `Q[0][0] > 0 in ${positive}/400 draws`);
});

t.test(
  'quadratic: A has the requested eigenvalues with Q as eigenvectors; minimiser is stationary',
  async (t) => {
    const lambda = [100, 10, 1, 0.1, 0.01, 5, 5, 3];
    const n = lambda.length;
    const p = quadratic({ eigenvalues: lambda, seed: 11 });
    t.equal(p.dim, n);
    t.strictSame(Array.from(p.eigenvalues), lambda);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t.equal(p.A[i * n + j], p.A[j * n + i]);
    for (let k = 0; k < n; k++) {
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = p.Q[i * n + k];
      const av = p.hvp(v);
      const resid = maxAbs(av.map((x, i) => x - lambda[k] * v[i]));
      t.ok(resid < 1e-12 * 100, `‖Av − λv‖∞ = ${resid} for λ = ${lambda[k]}`);
      const norm = Math.hypot(...v);
      t.ok(Math.abs(norm - 1) < 1e-13, `‖v${k}‖ = ${norm}`);
    }
    let trace = 0;
    for (let i = 0; i < n; i++) trace += p.A[i * n + i];
    t.ok(Math.abs(trace - lambda.reduce((a, b) => a + b, 0)) < 1e-11, `trace ${trace}`);
    t.ok(p.minimizer !== null);
    const x = p.minimizer!;
    t.ok(maxAbs(p.gradient(x)) < 1e-9, `‖∇f(x*)‖∞ = ${maxAbs(p.gradient(x))}`);
    t.ok(Math.abs(p.value(x) - p.minValue!) < 1e-9);
    const moved = Float64Array.from(x);
    moved[0] += 1e-3;
    t.ok(p.value(moved) > p.value(x), 'x* is a minimum');
    const other = quadratic({ eigenvalues: lambda, seed: 12 });
    t.ok(maxAbs(other.A.map((v, i) => v - p.A[i])) > 1e-3, 'seed changes the eigenbasis');
    const indefinite = quadratic({ eigenvalues: [2, -1], seed: 1, b: [1, 1] });
    t.equal(indefinite.minimizer, null);
    t.strictSame(Array.from(indefinite.b), [1, 1]);
    t.throws(() => quadratic({ eigenvalues: [1, NaN], seed: 0 }), /not finite/);
  },
);

t.test(
  'logistic regression: labels follow the true weight; gradient and Hessian match finite differences',
  async (t) => {
    const data = logisticRegressionData({ samples: 400, features: 5, seed: 3 });
    t.equal(data.X.length, 400 * 5);
    t.ok(
      data.X.every((v) => Math.fround(v) === v),
      'features are float32-representable',
    );
    t.strictSame(data.dataset.featureShape, [5]);
    t.equal(data.dataset.size, 400);
    t.equal(data.dataset.numClasses, 2);
    let agree = 0;
    for (let i = 0; i < data.n; i++) {
      let z = 0;
      for (let j = 0; j < data.d; j++) z += data.X[i * data.d + j] * data.trueWeight[j];
      if ((z > 0 ? 1 : 0) === data.y[i]) agree++;
    }
    t.ok(agree / data.n > 0.75, `sign(xᵀw*) predicts ${agree}/${data.n} labels`);
    t.ok(logisticLoss(data.X, data.y, data.trueWeight) < logisticLoss(data.X, data.y, new Float64Array(5)));

    const w = Float64Array.from([0.3, -0.2, 0.5, 0.1, -0.4]);
    const g = logisticGradient(data.X, data.y, w);
    for (let j = 0; j < 5; j++) {
      const fd = fdColumn((x) => [logisticLoss(data.X, data.y, x)], w, j, 1e-5)[0];
      t.ok(Math.abs(fd - g[j]) < 1e-8, `∂L/∂w${j}: ${g[j]} vs ${fd}`);
    }
    const h = logisticHessian(data.X, data.n, w);
    for (let j = 0; j < 5; j++) {
      const col = fdColumn((x) => logisticGradient(data.X, data.y, x), w, j, 1e-5);
      for (let i = 0; i < 5; i++) t.ok(Math.abs(col[i] - h[i * 5 + j]) < 1e-8, `H[${i},${j}]`);
    }
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) t.equal(h[i * 5 + j], h[j * 5 + i]);
    t.strictSame(logisticRegressionData({ samples: 400, features: 5, seed: 3 }).y, data.y, 'seeded');
  },
);

t.test('softmax regression: gradient and Hessian match finite differences; shift invariance', async (t) => {
  const k = 3;
  const d = 4;
  const data = softmaxRegressionData({ samples: 300, features: d, classes: k, seed: 9 });
  t.equal(data.trueWeight.length, k * d);
  t.equal(data.dataset.numClasses, 3);
  t.ok(data.y.every((c) => c >= 0 && c < k));
  t.ok(
    softmaxRegressionLoss(data.X, data.y, data.trueWeight, k) <
      softmaxRegressionLoss(data.X, data.y, new Float64Array(k * d), k),
    'true weight beats zero weight',
  );
  const W = Float64Array.from({ length: k * d }, (_, i) => Math.sin(i + 1) * 0.5);
  const g = softmaxRegressionGradient(data.X, data.y, W, k);
  for (let j = 0; j < k * d; j++) {
    const fd = fdColumn((x) => [softmaxRegressionLoss(data.X, data.y, x, k)], W, j, 1e-5)[0];
    t.ok(Math.abs(fd - g[j]) < 1e-8, `∂L/∂W${j}`);
  }
  const m = k * d;
  const h = softmaxRegressionHessian(data.X, data.n, W, k);
  let err = 0;
  for (let j = 0; j < m; j++) {
    const col = fdColumn((x) => softmaxRegressionGradient(data.X, data.y, x, k), W, j, 1e-5);
    for (let i = 0; i < m; i++) err = Math.max(err, Math.abs(col[i] - h[i * m + j]));
  }
  t.ok(err < 1e-8, `max |H − FD| = ${err}`);
  let asym = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++) asym = Math.max(asym, Math.abs(h[i * m + j] - h[j * m + i]));
  t.equal(asym, 0, 'exactly symmetric');
  // Adding the same vector u to every class row leaves the softmax unchanged, so H (1_k ⊗ u) = 0.
  const u = [0.7, -1.1, 0.4, 2.0];
  let null_ = 0;
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += h[i * m + j] * u[j % d];
    null_ = Math.max(null_, Math.abs(s));
  }
  t.ok(null_ < 1e-14, `‖H(1 ⊗ u)‖∞ = ${null_}`);
});
