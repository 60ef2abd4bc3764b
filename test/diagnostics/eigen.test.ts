import t from 'tap';
import { denseHessian } from '../../src/curvature/exact-diag.js';
import { quadratic } from '../../src/data/synthetic.js';
import { Tensor, add, mul } from '../../src/tensor/index.js';
import {
  batchedHvpOperator,
  hvpOperator,
  lambdaMax,
  matrixOperator,
  symmetricEigen,
  topEigenvalues,
} from '../../src/diagnostics/index.js';
import { relErr, smallMlp } from './fixtures/helpers.js';

function column(q: Float64Array, n: number, j: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => q[i * n + j]);
}

function absDot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return Math.abs(s);
}

t.test('top-3 eigenvalues (by magnitude) of an indefinite quadratic, PyHessian defaults', async (t) => {
  const eig = [0.3, -6, 1.2, 10, -0.8, 3.5, 0.5, 0.1, -0.05, 0.9];
  const n = eig.length;
  const q = quadratic({ eigenvalues: eig, seed: 17 });
  const res = topEigenvalues(matrixOperator(q.A, n), n, { k: 3, seed: 4 });
  const want = [10, -6, 3.5];
  const wantIdx = [3, 1, 5];
  for (let i = 0; i < 3; i++) {
    t.ok(relErr(res.eigenvalues[i], want[i]) < 1e-3, `λ${i + 1} = ${res.eigenvalues[i]} vs ${want[i]}`);
    t.ok(res.converged[i]);
    t.ok(absDot(res.eigenvectors[i], column(q.Q, n, wantIdx[i])) > 0.999, `eigenvector ${i + 1} aligned`);
  }
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 3; j++)
      t.ok(Math.abs(absDot(res.eigenvectors[i], res.eigenvectors[j]) - (i === j ? 1 : 0)) < 1e-12);
});

t.test('tighter tolerance on a clustered spectrum', async (t) => {
  const eig = [5, 4.6, -4.3, 1, 0.5, 0.2, -0.1, 0.05];
  const n = eig.length;
  const q = quadratic({ eigenvalues: eig, seed: 3 });
  const res = topEigenvalues(matrixOperator(q.A, n), n, { k: 3, tol: 1e-10, maxIter: 2000, seed: 1 });
  const want = [5, 4.6, -4.3];
  for (let i = 0; i < 3; i++)
    t.ok(relErr(res.eigenvalues[i], want[i]) < 1e-6, `λ${i + 1} = ${res.eigenvalues[i]} vs ${want[i]}`);
});

t.test('lambdaMax is the largest algebraic eigenvalue even when the largest |λ| is negative', async (t) => {
  const eig = [-10, 4, 1, -2, 0.5, 2];
  const n = eig.length;
  const q = quadratic({ eigenvalues: eig, seed: 6 });
  const res = lambdaMax(matrixOperator(q.A, n), n, { tol: 1e-9, maxIter: 1000 });
  t.ok(relErr(res.topMagnitude, -10) < 1e-6, `top magnitude ${res.topMagnitude}`);
  t.ok(relErr(res.lambdaMax, 4) < 1e-5, `λmax ${res.lambdaMax}`);
  const pos = lambdaMax(matrixOperator(quadratic({ eigenvalues: [3, -1, 0.5], seed: 2 }).A, 3), 3, {
    tol: 1e-9,
  });
  t.ok(relErr(pos.lambdaMax, 3) < 1e-6);
});

t.test('small MLP: top eigenvalue matches the dense exact Hessian within 1%', async (t) => {
  const { model, params, f } = smallMlp();
  const n = model.layout.size;
  const H = denseHessian(f, params);
  const dense = symmetricEigen(H, n).values;
  const top = Math.abs(dense[0]) > Math.abs(dense[n - 1]) ? dense[0] : dense[n - 1];
  const res = topEigenvalues(hvpOperator(f, params), n, { k: 2, seed: 0 });
  t.ok(relErr(res.eigenvalues[0], top) < 0.01, `power iteration ${res.eigenvalues[0]} vs dense ${top}`);
  t.comment(`MLP λ1: power ${res.eigenvalues[0]}, dense ${top}, rel err ${relErr(res.eigenvalues[0], top)}`);
  const byMag = [...dense].sort((a, b) => Math.abs(b) - Math.abs(a));
  t.comment(`MLP λ2: power ${res.eigenvalues[1]}, dense ${byMag[1]}`);
});

t.test('batchedHvpOperator averages the batch Hessians', async (t) => {
  const { model, params, makeBatch } = smallMlp(8);
  const n = model.layout.size;
  const f1 = makeBatch(1);
  const f2 = makeBatch(2);
  const avg = hvpOperator((x: Tensor) => mul(add(f1(x), f2(x)), 0.5), params);
  const batched = batchedHvpOperator([f1, f2], params);
  const v = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
  const a = avg(v);
  const b = batched(v);
  let diff = 0;
  for (let i = 0; i < n; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  t.ok(diff < 1e-12, `max difference ${diff}`);
  // float32 parameters accept float64 vectors and answer in float32
  const p32 = new Tensor(Float32Array.from(params.data), params.shape);
  t.ok(hvpOperator(f1, p32)(v) instanceof Float32Array);
});
