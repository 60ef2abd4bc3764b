import t from 'tap';
import { quadratic } from '../../src/data/synthetic.js';
import {
  adamStability,
  gdStability,
  lambdaMax,
  matrixOperator,
  momentumStability,
  preconditionedLambdaMax,
  sgdStability,
  symmetricEigen,
} from '../../src/diagnostics/index.js';

// A positive-definite quadratic with λmax = 4: GD diverges above η = 0.5, heavy ball (β = 0.9) above 0.95.
const eig = [4, 1, 0.5, 0.2, 2.5];
const n = eig.length;
const q = quadratic({ eigenvalues: eig, seed: 7 });
const op = matrixOperator(q.A, n);

/** Distance to the minimiser after `steps` of heavy-ball GD from x = 0. */
function run(lr: number, beta: number, steps = 400): number {
  let x = new Float64Array(n);
  let prev = new Float64Array(n);
  for (let s = 0; s < steps; s++) {
    const g = q.gradient(x);
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) next[i] = x[i] - lr * g[i] + beta * (x[i] - prev[i]);
    prev = x;
    x = next;
  }
  let d = 0;
  for (let i = 0; i < n; i++) d += (x[i] - q.minimizer![i]) ** 2;
  return Math.sqrt(d);
}

t.test('GD verdict matches the actual dynamics on a quadratic with λmax = 4', async (t) => {
  const lm = lambdaMax(op, n, { tol: 1e-10, maxIter: 1000 }).lambdaMax;
  t.ok(Math.abs(lm - 4) < 1e-6, `λmax ${lm}`);
  const ok = gdStability(0.45, lm);
  t.ok(ok.stable);
  t.ok(Math.abs(ok.ratio - 0.9) < 1e-6);
  t.ok(Math.abs(ok.maxStableLr - 0.5) < 1e-6);
  t.match(ok.verdict, /^stable: η·λmax\/2 = 0\.9 is below 1/);
  t.ok(run(0.45, 0) < 1e-6, 'GD at the "stable" rate converges');
  const bad = gdStability(0.55, lm);
  t.notOk(bad.stable);
  t.ok(Math.abs(bad.ratio - 1.1) < 1e-6);
  t.match(bad.verdict, /^unstable: η·λmax\/2 = 1\.1 > 1 — lower lr to 0\.5 or below/);
  t.ok(!(run(0.55, 0) < 1e3), 'GD at the "unstable" rate diverges');
});

t.test('heavy-ball verdict: threshold (2 + 2β)/λmax', async (t) => {
  const ok = momentumStability(0.93, 4, 0.9);
  t.ok(ok.stable && Math.abs(ok.ratio - (0.93 * 4) / 3.8) < 1e-12);
  t.ok(Math.abs(ok.maxStableLr - 0.95) < 1e-12);
  t.ok(run(0.93, 0.9, 3000) < 1e-6, 'momentum at the "stable" rate converges');
  const bad = momentumStability(0.97, 4, 0.9);
  t.notOk(bad.stable);
  t.match(bad.verdict, /^unstable: .* > 1 — lower lr to 0\.95/);
  t.ok(!(run(0.97, 0.9, 3000) < 1e3), 'momentum at the "unstable" rate diverges');
  t.throws(() => momentumStability(0.1, 4, 1));
});

t.test('Adam-type: λmax of P^{-1/2} H P^{-1/2} and the (1 − β1)/(2 + 2β1) form', async (t) => {
  const p = [0.5, 2, 1, 4, 0.25];
  const lp = preconditionedLambdaMax(op, n, p, { tol: 1e-12, maxIter: 2000 });
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) m[i * n + j] = q.A[i * n + j] / Math.sqrt(p[i] * p[j]);
  const ref = symmetricEigen(m, n).values[n - 1];
  t.ok(Math.abs(lp - ref) / ref < 1e-6, `${lp} vs ${ref}`);
  t.ok(Math.abs(lp - 4) > 0.1, 'the preconditioner changes λmax');
  const r = adamStability(0.01, lp, 0.9);
  t.ok(Math.abs(r.ratio - (0.01 * lp * 0.1) / 3.8) < 1e-12);
  t.ok(r.stable);
  t.throws(() => preconditionedLambdaMax(op, n, [1, 1, 0, 1, 1]));
});

t.test('SGD small-batch form and non-positive curvature', async (t) => {
  const tr = eig.reduce((a, b) => a + b, 0); // 8.2
  const s = sgdStability(0.3, tr);
  t.ok(Math.abs(s.ratio - 1.23) < 1e-12);
  t.notOk(s.stable);
  t.match(s.verdict, /lower lr to 0\.244/);
  const neg = gdStability(1, -3);
  t.ok(neg.stable);
  t.equal(neg.maxStableLr, Infinity);
  t.match(neg.verdict, /^stable:/);
  t.throws(() => gdStability(0, 1));
  t.throws(() => gdStability(0.1, NaN));
});
