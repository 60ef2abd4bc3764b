import t from 'tap';
import { adamw, precondUpdateProbSchedule, psgdKron, scaleByPsgdKron } from '../../src/optim/index.js';
import type { PsgdKronState } from '../../src/optim/index.js';
import type { TensorLayout } from '../../src/optim/tensor-layout.js';
import { rng } from '../../src/random/counter-rng.js';
import { SIZE, drive, layout, loss, pairAt, spd } from './psgd-problem.js';

t.test('Hessian fitting on a Kronecker-structured H drives P·H to I (P → H⁻¹)', async (t) => {
  // H = (A ⊗ B) ⊕ diag(h) on a 3×4 matrix and a 4-vector; condition 10 per factor and over h.
  const [m, n] = [3, 4];
  const size = m * n + n;
  const A = spd(m, 11, 10);
  const B = spd(n, 12, 10);
  const h = [1, 0.5, 0.2, 0.1];
  const lay: TensorLayout = [
    { name: 'w', offset: 0, size: m * n, shape: [m, n], role: 'matrix' },
    { name: 'b', offset: m * n, size: n, shape: [n], role: 'vector' },
  ];
  const H = (x: ArrayLike<number>) => {
    const y = new Float32Array(size);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++)
        for (let k = 0; k < m; k++)
          for (let l = 0; l < n; l++) y[i * n + j] += A[i * m + k] * x[k * n + l] * B[l * n + j];
    for (let i = 0; i < n; i++) y[m * n + i] = h[i] * x[m * n + i];
    return y;
  };
  const tx = scaleByPsgdKron({ mode: 'hessian', damping: 0 });
  // b1 = 0 and no clipping: with no pair, an update is exactly P·g, so column k of P·H is update(H·e_k).
  const residual = (state: PsgdKronState) => {
    let sq = 0;
    for (let k = 0; k < size; k++) {
      const e = new Float32Array(size);
      e[k] = 1;
      const [col] = tx.update(H(e), state);
      for (let i = 0; i < size; i++) sq += (col[i] - (i === k ? 1 : 0)) ** 2;
    }
    return Math.sqrt(sq / size);
  };
  let state = tx.init(new Float32Array(size), lay);
  const before = residual(state);
  for (let i = 0; i < 3000; i++) {
    const v = rng(4, 'closed-form', i).fillNormal(new Float32Array(size));
    [, state] = tx.update(new Float32Array(size), state, undefined, { hessianPair: { v, hv: H(v) } });
  }
  const after = residual(state);
  t.ok(before > 0.3, `‖PH − I‖_F/√n at P = I: ${before}`);
  t.ok(after < 1e-4, `‖PH − I‖_F/√n after 3000 exact pairs: ${after}`);
});

// ---- an independent float64 transcription of one factor step (kron_torch / psgd_torch "EQ" rule) ----
type Mat = number[][];
const mul = (a: Mat, b: Mat): Mat =>
  a.map((row) => b[0].map((_, j) => row.reduce((s, x, k) => s + x * b[k][j], 0)));
const tr = (a: Mat): Mat => a[0].map((_, j) => a.map((row) => row[j]));
function inv(a: Mat): Mat {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...row.map((_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    const p = m[c][c];
    for (let j = 0; j < 2 * n; j++) m[c][j] /= p;
    for (let r = 0; r < n; r++)
      if (r !== c) for (let j = 2 * n - 1; j >= 0; j--) m[r][j] -= m[r][c] * m[c][j];
  }
  return m.map((row) => row.slice(n));
}
/** kron_torch's `_lb` on a symmetric matrix. */
function lb(S: Mat): number {
  const mx = Math.max(...S.flat().map(Math.abs));
  const s = S.map((r) => r.map((v) => v / mx));
  const norms = s[0].map((_, j) => s.reduce((a, r) => a + r[j] ** 2, 0));
  const c = norms.indexOf(Math.max(...norms));
  const x = s[0].map((_, j) => s.reduce((a, r) => a + r[c] * r[j], 0));
  const nx = Math.hypot(...x);
  return Math.hypot(...s.map((r) => r.reduce((a, v, j) => a + v * (x[j] / nx), 0))) * mx;
}
function stepTri(q: Mat, t1: Mat, t2: Mat, L: number, lr: number, beta: number): [Mat, number] {
  const ell = lb(t1.map((r, i) => r.map((v, j) => v + t2[i][j])));
  const L2 = Math.max(beta * L + (1 - beta) * ell, ell);
  const E = t1.map((r, i) => r.map((v, j) => (j >= i ? v - t2[i][j] : 0)));
  const EQ = mul(E, q);
  return [q.map((r, i) => r.map((v, j) => v - (lr / L2) * EQ[i][j])), L2];
}

t.test('one factor step equals a hand computation in float64 (2×3 matrix and a 3-vector)', async (t) => {
  const lay: TensorLayout = [
    { name: 'w', offset: 0, size: 6, shape: [2, 3], role: 'matrix' },
    { name: 'b', offset: 6, size: 3, shape: [3], role: 'vector' },
  ];
  const lr = 0.3;
  const beta = 0.9;
  const tx = scaleByPsgdKron({ mode: 'hessian', precondInitScale: 1, damping: 0, precondLr: lr });
  const pairs = [
    { v: [0.5, -1, 2, 0.3, 1.5, -0.7, 1, -2, 0.5], hv: [2, 0.5, -1, 1, 3, 0.2, 0.4, -0.1, 3] },
    { v: [-1, 0.2, 0.7, 1.1, -0.4, 0.9, 0.3, 1, -1], hv: [0.3, -1.2, 0.8, 2.5, 0.1, -0.6, 0.2, 2, -0.5] },
  ];
  let state = tx.init(new Float32Array(9), lay);
  let Q1: Mat = [
    [1, 0],
    [0, 1],
  ];
  let Q2: Mat = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  let q = [1, 1, 1];
  let L = [0, 0, 0];
  for (const p of pairs) {
    [, state] = tx.update(new Float32Array(9), state, undefined, {
      hessianPair: { v: Float32Array.from(p.v), hv: Float32Array.from(p.hv) },
    });
    const V = [p.v.slice(0, 3), p.v.slice(3, 6)];
    const Hm = [p.hv.slice(0, 3), p.hv.slice(3, 6)];
    const Am = mul(mul(Q1, Hm), tr(Q2));
    const Bm = mul(mul(tr(inv(Q1)), V), inv(Q2));
    let L0: number;
    let L1: number;
    [Q1, L0] = stepTri(Q1, mul(Am, tr(Am)), mul(Bm, tr(Bm)), L[0], lr, beta);
    [Q2, L1] = stepTri(Q2, mul(tr(Am), Am), mul(tr(Bm), Bm), L[1], lr, beta);
    // The vector's diagonal factor: A = q⊙h, B = v/q, ell = max(A² + B²).
    const a = q.map((x, i) => x * p.hv[6 + i]);
    const b = q.map((x, i) => p.v[6 + i] / x);
    const ell = Math.max(...a.map((x, i) => x * x + b[i] * b[i]));
    const L2 = Math.max(beta * L[2] + (1 - beta) * ell, ell);
    q = q.map((x, i) => x - (lr / L2) * (a[i] ** 2 - b[i] ** 2) * x);
    L = [L0, L1, L2];
  }
  const want = [Q1.flat(), Q2.flat(), q];
  state.factors.forEach((f, k) => {
    const bad = Array.from(f).some(
      (v, i) => Math.abs(v - want[k][i]) > 2e-6 * Math.max(1, Math.abs(want[k][i])),
    );
    t.notOk(bad, `factor ${k} after two steps`, { found: Array.from(f), wanted: want[k] });
  });
  t.ok(Q1[0][0] !== 1 && Q2[0][1] !== 0, 'the steps moved the factors off the identity');
  state.lipschitz.forEach((l, k) => t.ok(Math.abs(l - L[k]) <= 1e-5 * L[k], `Lipschitz estimate ${k}`));
});

t.test('convergence on an ill-conditioned Kronecker quadratic (condition 10⁴)', async (t) => {
  const l0 = loss(new Float32Array(SIZE));
  const hess = loss(drive(psgdKron({ mode: 'hessian', lr: 0.3 }), 300, 1).x) / l0;
  const sparse = loss(drive(psgdKron({ mode: 'hessian', lr: 0.3 }), 300, 3).x) / l0;
  const white = loss(drive(psgdKron({ lr: 0.01 }), 300, 0).x) / l0;
  const adam = Math.min(...[0.003, 0.01, 0.03, 0.1].map((lr) => loss(drive(adamw({ lr }), 300, 0).x) / l0));
  t.ok(hess < 1e-5, `Hessian fitting, a pair every step: loss ratio ${hess}`);
  t.ok(sparse < 1e-3, `Hessian fitting, a pair every 3 steps: loss ratio ${sparse}`);
  t.ok(white < 1e-3, `whitening: loss ratio ${white}`);
  t.ok(hess < adam / 3, `Hessian fitting beats AdamW's best lr of four (${adam}) in 300 steps`);
});

t.test("kron_torch's update-probability schedule and its deterministic counter", async (t) => {
  const p = precondUpdateProbSchedule();
  t.equal(p(0), 1);
  t.equal(p(500), 1);
  t.ok(Math.abs(p(1000) - Math.exp(-0.5)) < 1e-6, 'exp(−0.001·(t − 500)) after the flat start');
  t.equal(p(10000), Math.fround(0.03), 'floored at 0.03');
  // Probability 0.25: kron_torch's counter refits on every 4th step (1/p steps since the last refit).
  const tx = scaleByPsgdKron({ updateProbability: 0.25 });
  let s = tx.init(new Float32Array(SIZE), layout);
  const refits: number[] = [];
  for (let k = 1; k <= 12; k++) {
    const [, next] = tx.update(pairAt(k).hv, s);
    if (next.factors !== s.factors) refits.push(k);
    s = next;
  }
  t.same(refits, [4, 8, 12]);
  // The default schedule refits on every one of the first steps.
  const d = scaleByPsgdKron();
  let s2 = d.init(new Float32Array(SIZE), layout);
  let n = 0;
  for (let k = 0; k < 5; k++) {
    const [, next] = d.update(pairAt(k).hv, s2);
    if (next.factors !== s2.factors) n++;
    s2 = next;
  }
  t.equal(n, 5);
});

t.test(
  'Hessian mode without a pair keeps P at its initial value (like Sophia before an estimate)',
  async (t) => {
    const tx = scaleByPsgdKron({ mode: 'hessian' });
    let s = tx.init(new Float32Array(SIZE), layout);
    const init = s.factors;
    for (let k = 0; k < 5; k++) {
      const g = pairAt(k).hv;
      const [u, next] = tx.update(g, s);
      t.same(Array.from(u), Array.from(g), `step ${k}: update = P·g = g (b1 = 0, P = I)`);
      s = next;
    }
    t.equal(s.factors, init, 'factors untouched');
    t.equal(s.scaled, false, 'the on-the-fly scale waits for the first pair');
  },
);
