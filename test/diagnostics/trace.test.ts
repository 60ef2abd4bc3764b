import t from 'tap';
import { denseHessian } from '../../src/curvature/exact-diag.js';
import { quadratic } from '../../src/data/synthetic.js';
import { rng } from '../../src/random/counter-rng.js';
import { Tensor } from '../../src/tensor/index.js';
import {
  type ParamGroup,
  hutchinsonTrace,
  hvpOperator,
  layoutGroups,
  matrixOperator,
} from '../../src/diagnostics/index.js';
import { diagMatrix, quadraticLoss, smallMlp } from './fixtures/helpers.js';

/** Standard deviation of Σ_{j∈sel} z_j (Az)_j for Rademacher z: only off-diagonal pairs vary. */
function probeStd(A: ArrayLike<number>, n: number, inGroup: (i: number) => boolean): number {
  let v = 0;
  for (let j = 0; j < n; j++)
    for (let k = j + 1; k < n; k++) {
      const c = A[j * n + k] * ((inGroup(j) ? 1 : 0) + (inGroup(k) ? 1 : 0));
      v += c * c;
    }
  return Math.sqrt(v);
}

t.test('diagonal matrix: every Rademacher probe gives the exact trace, stop after two probes', async (t) => {
  const d = [3, -1, 2, 0.5, -4.25];
  const res = hutchinsonTrace(matrixOperator(diagMatrix(d), d.length), d.length);
  t.equal(res.trace, 0.25);
  t.equal(res.iterations, 2);
  t.ok(res.converged);
  t.same(res.history, [0.25, 0.25]);
});

t.test('quadratic with a known (indefinite) spectrum: estimate within 4 standard errors', async (t) => {
  const eig = [5, 3, -2, 1, 0.5, -0.7, 4, 2, -3, 1.5, 0.25, -1];
  const n = eig.length;
  const tr = eig.reduce((a, b) => a + b, 0); // 10.55
  const q = quadratic({ eigenvalues: eig, seed: 11 });
  const op = matrixOperator(q.A, n);
  const sd = probeStd(q.A, n, () => true);
  t.ok(sd > 1, 'the matrix is far from diagonal, so the test is not trivial');

  const long = hutchinsonTrace(op, n, { tol: 0, maxIter: 4000, seed: 5 });
  t.equal(long.iterations, 4000);
  t.notOk(long.converged);
  t.ok(Math.abs(long.trace - tr) < (4 * sd) / Math.sqrt(4000), `${long.trace} vs ${tr} (sd/probe ${sd})`);

  // The probes are rng(seed, 'trace', i): recompute the estimate by hand.
  let s = 0;
  for (let i = 0; i < 4000; i++) {
    const z = rng(5, 'trace', i).fillRademacher(new Float64Array(n));
    const az = q.hvp(z);
    for (let j = 0; j < n; j++) s += z[j] * az[j];
  }
  t.ok(Math.abs(long.trace - s / 4000) < 1e-9);

  // Default PyHessian rule: stops early on a small relative change; history is the running mean.
  const def = hutchinsonTrace(op, n, { seed: 5 });
  t.ok(def.iterations >= 2 && def.iterations <= 100);
  t.equal(def.history.length, def.iterations);
  t.equal(def.history.at(-1), def.trace);
  if (def.converged) {
    const [a, b] = def.history.slice(-2);
    t.ok(Math.abs(b - a) / (Math.abs(a) + 1e-6) < 1e-3);
  }
  t.ok(Math.abs(def.trace - tr) < (5 * sd) / Math.sqrt(def.iterations), `${def.trace} vs ${tr}`);

  // Through autodiff on the same quadratic: the same numbers.
  const x = new Tensor(new Float64Array(n).fill(0.2), [n]);
  const viaAutodiff = hutchinsonTrace(hvpOperator(quadraticLoss(q.A, q.b), x), n, {
    tol: 0,
    maxIter: 50,
    seed: 5,
  });
  const viaMatrix = hutchinsonTrace(op, n, { tol: 0, maxIter: 50, seed: 5 });
  t.ok(Math.abs(viaAutodiff.trace - viaMatrix.trace) < 1e-9);
});

t.test('per-group traces sum to the total and estimate the diagonal-block traces', async (t) => {
  const eig = [6, -2, 3, 1, 0.5, -1.5, 2, 4, -0.5, 1];
  const n = eig.length;
  const q = quadratic({ eigenvalues: eig, seed: 21 });
  const groups: ParamGroup[] = [
    { name: 'a', ranges: [[0, 3]], params: 3 },
    {
      name: 'b',
      ranges: [
        [3, 4],
        [7, 10],
      ],
      params: 4,
    },
    { name: 'c', ranges: [[4, 7]], params: 3 },
  ];
  const N = 3000;
  const res = hutchinsonTrace(matrixOperator(q.A, n), n, { tol: 0, maxIter: N, seed: 2, groups });
  const total = res.perLayer.reduce((s, g) => s + g.trace, 0);
  t.ok(Math.abs(total - res.trace) < 1e-9, 'groups covering every parameter sum to the total');
  t.same(
    res.perLayer.map((g) => [g.name, g.params]),
    [
      ['a', 3],
      ['b', 4],
      ['c', 3],
    ],
  );
  for (const [gi, g] of groups.entries()) {
    const inG = (i: number) => g.ranges.some(([a, b]) => i >= a && i < b);
    let block = 0;
    for (let i = 0; i < n; i++) if (inG(i)) block += q.A[i * n + i];
    const sd = probeStd(q.A, n, inG);
    const est = res.perLayer[gi].trace;
    t.ok(Math.abs(est - block) < (4 * sd) / Math.sqrt(N), `${g.name}: ${est} vs block trace ${block}`);
  }
  t.throws(() =>
    hutchinsonTrace(matrixOperator(q.A, n), n, {
      groups: [
        { name: 'x', ranges: [[0, 5]], params: 5 },
        { name: 'y', ranges: [[4, 6]], params: 2 },
      ],
    }),
  );
});

t.test('MLP layer groups: per-layer traces match the dense Hessian blocks', async (t) => {
  const { model, params, f } = smallMlp();
  const n = model.layout.size;
  const groups = layoutGroups(model.layout);
  t.same(
    groups.map((g) => [g.name, g.params]),
    [
      ['layers.0', 25],
      ['layers.1', 18],
    ],
  );
  t.equal(layoutGroups(model.layout, 'entry').length, 4);
  const H = denseHessian(f, params);
  const N = 1500;
  const res = hutchinsonTrace(hvpOperator(f, params), n, { tol: 0, maxIter: N, seed: 1, groups });
  t.ok(Math.abs(res.perLayer[0].trace + res.perLayer[1].trace - res.trace) < 1e-9);
  let full = 0;
  for (let i = 0; i < n; i++) full += H[i * n + i];
  const sdAll = probeStd(H, n, () => true);
  t.ok(Math.abs(res.trace - full) < (4 * sdAll) / Math.sqrt(N), `${res.trace} vs ${full}`);
  for (const [gi, g] of groups.entries()) {
    const inG = (i: number) => g.ranges.some(([a, b]) => i >= a && i < b);
    let block = 0;
    for (let i = 0; i < n; i++) if (inG(i)) block += H[i * n + i];
    const sd = probeStd(H, n, inG);
    t.ok(
      Math.abs(res.perLayer[gi].trace - block) < (4 * sd) / Math.sqrt(N),
      `${g.name}: ${res.perLayer[gi].trace} vs ${block} (se ${sd / Math.sqrt(N)})`,
    );
  }
});
