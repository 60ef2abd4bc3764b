import t from 'tap';
import { exactDiag, denseHessian } from '../../src/curvature/exact-diag.js';
import { gnbDiag, sampleLabels } from '../../src/curvature/gnb-diag.js';
import { hutchinsonDiag } from '../../src/curvature/hutchinson-diag.js';
import { logisticHessian, logisticRegressionData, quadratic } from '../../src/data/synthetic.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { lossFunction } from '../../src/nn/model.js';
import {
  Tensor,
  add,
  exp,
  log,
  matmul,
  mean,
  mul,
  reshape,
  sub,
  sum,
  tensor,
} from '../../src/tensor/index.js';
import { rng } from '../../src/random/counter-rng.js';

const f64 = (a: ArrayLike<number>, shape: number[]) => new Tensor(Float64Array.from(a), shape);

/** ½ xᵀAx − bᵀx written in tensor ops. */
function quadraticLoss(A: Float64Array, b: Float64Array) {
  const n = b.length;
  const At = f64(A, [n, n]);
  const bt = f64(b, [n]);
  return (x: Tensor) =>
    sub(mul(sum(mul(x, reshape(matmul(At, reshape(x, [n, 1])), [n]))), 0.5), sum(mul(bt, x)));
}

t.test('Hutchinson averaged over many probes converges to diag(A) of a quadratic', async (t) => {
  const q = quadratic({ eigenvalues: [5, 3, 2, 1, 0.5, -0.7], seed: 4 });
  const f = quadraticLoss(q.A, q.b);
  const x = f64(new Float64Array(6).fill(0.3), [6]);
  const est = hutchinsonDiag(f, x, { probes: 4000, seed: 9 });
  const n = 6;
  for (let i = 0; i < n; i++) {
    // z⊙Az = diag(A) + Σ_{j≠i} A_ij z_i z_j: the error's std is √(Σ_{j≠i} A_ij² / probes).
    let off = 0;
    for (let j = 0; j < n; j++) if (j !== i) off += q.A[i * n + j] ** 2;
    const tol = 4 * Math.sqrt(off / 4000) + 1e-12;
    t.ok(
      Math.abs(est.diag[i] - q.A[i * n + i]) <= tol,
      `coordinate ${i}: ${est.diag[i]} vs ${q.A[i * n + i]} (tol ${tol})`,
    );
  }
  // The gradient comes free with the estimate: Ax − b.
  const g = q.gradient(x.data);
  for (let i = 0; i < n; i++) t.ok(Math.abs(est.grad[i] - g[i]) < 1e-12);
  // Same seed and step: same estimate; another step: different probes.
  t.same(
    Array.from(hutchinsonDiag(f, x, { seed: 1, step: 3 }).diag),
    Array.from(hutchinsonDiag(f, x, { seed: 1, step: 3 }).diag),
  );
  t.notSame(
    Array.from(hutchinsonDiag(f, x, { seed: 1, step: 3 }).diag),
    Array.from(hutchinsonDiag(f, x, { seed: 1, step: 4 }).diag),
  );
});

t.test('exactDiag and Hutchinson match the closed-form logistic-regression Hessian', async (t) => {
  const data = logisticRegressionData({ samples: 40, features: 5, seed: 2 });
  const X = f64(data.X, [40, 5]);
  const y = f64(data.y, [40, 1]);
  // mean(log(1 + e^z) − y z), z = X w
  const f = (w: Tensor) => {
    const z = matmul(X, reshape(w, [5, 1]));
    return mean(sub(log(add(exp(z), 1)), mul(y, z)));
  };
  const w = f64([0.3, -0.2, 0.1, 0.5, -0.4], [5]);
  const H = logisticHessian(data.X, 40, w.data);
  const exact = exactDiag(f, w);
  for (let i = 0; i < 5; i++) t.ok(Math.abs(exact[i] - H[i * 5 + i]) < 1e-12, `exact diag ${i}`);
  const dense = denseHessian(f, w);
  let worst = 0;
  for (let i = 0; i < 25; i++) worst = Math.max(worst, Math.abs(dense[i] - H[i]));
  t.ok(worst < 1e-12, `dense Hessian worst error ${worst}`);
  const est = hutchinsonDiag(f, w, { probes: 3000, seed: 5 });
  for (let i = 0; i < 5; i++)
    t.ok(
      Math.abs(est.diag[i] - H[i * 5 + i]) < 0.1 * H[i * 5 + i] + 0.01,
      `hutchinson diag ${i}: ${est.diag[i]} vs ${H[i * 5 + i]}`,
    );
});

t.test('GNB: B·E[ĝ⊙ĝ] equals the Gauss-Newton diagonal (= Hessian for softmax regression)', async (t) => {
  // A linear model with cross-entropy: the Gauss-Newton matrix is the Hessian.
  const model = buildModel({ kind: 'mlp', sizes: [3, 4] });
  const r = rng(11, 'gnb-test');
  const B = 6;
  const inputs = { data: r.fillNormal(new Float64Array(B * 3)), shape: [B, 3] };
  const params = f64(r.fillNormal(new Float64Array(model.layout.size), 0, 0.5), [model.layout.size]);
  // The Hessian does not depend on the targets for cross-entropy of a linear model.
  const f = lossFunction(model, inputs, new Int32Array(B));
  const H = exactDiag(f, params);
  const draws = 4000;
  const avg = new Float64Array(params.size);
  for (let s = 0; s < draws; s++) {
    const { diag } = gnbDiag(model, params, inputs, { seed: 3, step: s });
    for (let i = 0; i < avg.length; i++) avg[i] += (B * diag[i]) / draws;
  }
  let worst = 0;
  for (let i = 0; i < avg.length; i++) worst = Math.max(worst, Math.abs(avg[i] - H[i]) / (H[i] + 1e-3));
  t.ok(worst < 0.12, `worst relative deviation ${worst.toFixed(3)} over ${avg.length} coordinates`);
});

t.test('sampled labels follow the model softmax', async (t) => {
  const logits = tensor([Math.log(0.7), Math.log(0.2), Math.log(0.1)], [1, 3], 'float64');
  const counts = [0, 0, 0];
  for (let s = 0; s < 3000; s++) counts[sampleLabels(logits, 3, 1, s)[0]]++;
  t.ok(Math.abs(counts[0] / 3000 - 0.7) < 0.03, `p0 ${counts[0] / 3000}`);
  t.ok(Math.abs(counts[1] / 3000 - 0.2) < 0.03, `p1 ${counts[1] / 3000}`);
});
