/**
 * SOAP-Sophia: the win-rate equals its target per tensor, h' is the EMA of the rotated (Q_Lᵀ ĝ Q_R)² when a
 * curvature gradient arrives (and stays put between), the clipped step by hand, K-FAC-style factors from
 * ĝ, the Nesterov look-ahead by hand, and option errors.
 */
import t from 'tap';
import { mlp } from '../../src/nn/models/mlp.js';
import { tensorLayoutOf } from '../../src/nn/tensor-layout.js';
import {
  findStats,
  scaleBySoapSophia,
  soapSophia,
  type SoapState,
  type TensorLayout,
} from '../../src/optim/index.js';
import { matmul64, rng } from './soap-reference.js';

const tiny: TensorLayout = [
  { name: 'w', offset: 0, size: 6, shape: [3, 2], role: 'matrix' },
  { name: 'b', offset: 6, size: 2, shape: [2], role: 'vector' },
];

function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]) / Math.max(1e-3, Math.abs(b[i])));
  return e;
}

/** Q_Lᵀ X Q_R (float64) for the tiny layout's 3×2 block. */
const rot = (s: SoapState, x: ArrayLike<number>) =>
  matmul64(matmul64(s.factors[0].QL, x, 3, 3, 2, true), s.factors[0].QR, 3, 2, 2);
const back = (s: SoapState, x: ArrayLike<number>) =>
  matmul64(matmul64(s.factors[0].QL, x, 3, 3, 2), s.factors[0].QR, 3, 2, 2, false, true);

t.test('win-rate equals the target in every tensor', async (t) => {
  const layout = tensorLayoutOf(mlp({ kind: 'mlp', sizes: [20, 16, 10] }));
  const d = layout.reduce((n, s) => n + s.size, 0);
  for (const q of [0.9, 0.5]) {
    const opt = scaleBySoapSophia({ winRateTarget: q, preconditionFrequency: 3 });
    let state = opt.init(new Float32Array(d), layout);
    const next = rng(4);
    for (let k = 0; k < 8; k++) [, state] = opt.update(Float32Array.from({ length: d }, next), state);
    // Ties aside, ⌊q·n⌋ of a block's n ratios lie below its ρ (the ⌊q·n⌋-th smallest).
    const expected = layout.reduce((n, s) => n + Math.floor(q * s.size), 0) / d;
    t.equal(findStats(state)!.winRate, expected, `target ${q}: win-rate ${expected.toFixed(4)}`);
  }
});

t.test("curvature gradients: h' is the rotated ĝ² EMA; the clipped step by hand", async (t) => {
  const [b1, b2, q] = [0.9, 0.99, 0.5];
  const opt = scaleBySoapSophia({
    b1,
    b2,
    winRateTarget: q,
    curvature: 'curvatureGradient',
    preconditionFrequency: 100,
  });
  const next = rng(8);
  const vec = () => Float32Array.from({ length: 8 }, next);
  const [g0, g1, g2, c0, c2] = [vec(), vec(), vec(), vec(), vec()];
  const s0 = opt.init(new Float32Array(8), tiny);
  const [u0, s1] = opt.update(g0, s0, undefined, { curvatureGradient: c0 });
  t.ok(
    u0.every((x) => x === 0),
    'the first call only builds the basis',
  );
  // ĝ with the first call: h' = (1 − β2)·(Q_Lᵀ ĝ Q_R)² in the basis just built; the bias unrotated.
  const h1 = [...rot(s1, c0.subarray(0, 6)), c0[6], c0[7]].map((x) => (1 - b2) * x * x);
  t.ok(maxErr(s1.v, h1) < 1e-5, "h' after the first ĝ", { found: Array.from(s1.v), wanted: h1 });
  t.equal(findStats(s1)!.hessianUpdates, 1);

  // No ĝ: h' stays; the step is sign(m')·min(|m'|/(ρ·h'), 1), ρ the median ratio per block.
  const [u1, s2] = opt.update(g1, s1);
  t.same(Array.from(s2.v), Array.from(s1.v), "h' unchanged without ĝ");
  const clipByHand = (mr: number[], h: number[]) => {
    const ratios = mr.map((m, i) => Math.abs(m) / (h[i] + 1e-15));
    const rho = [...ratios].sort((a, b) => a - b)[Math.floor(q * ratios.length)];
    return mr.map((m, i) => Math.sign(m) * Math.min(Math.abs(m) / (rho * h[i] + 1e-15), 1));
  };
  const m1 = Array.from(g1, (x) => (1 - b1) * x);
  const h = Array.from(s1.v);
  const w1 = clipByHand(Array.from(rot(s1, m1.slice(0, 6))), h.slice(0, 6));
  const expected1 = [...back(s1, w1), ...clipByHand(m1.slice(6), h.slice(6))];
  t.ok(maxErr(u1, expected1) < 1e-5, 'the clipped step in the eigenbasis', {
    found: Array.from(u1),
    wanted: expected1,
  });

  // ĝ again: h' ← β2·h' + (1 − β2)·(Q_Lᵀ ĝ Q_R)² with the basis this step uses.
  const [, s3] = opt.update(g2, s2, undefined, { curvatureGradient: c2 });
  const r2 = [...rot(s2, c2.subarray(0, 6)), c2[6], c2[7]];
  const h3 = r2.map((x, i) => b2 * s2.v[i] + (1 - b2) * x * x);
  t.ok(maxErr(s3.v, h3) < 1e-5, "h' after the second ĝ");
  t.same([findStats(s3)!.hessianUpdates, findStats(s3)!.stepsSinceHessian], [2, 0]);
});

t.test("nesterov: the clip takes β1·m' + (1 − β1)·G', m' itself is unchanged", async (t) => {
  const [b1, b2, q] = [0.9, 0.99, 0.5];
  const make = (nesterov: boolean) =>
    scaleBySoapSophia({ b1, b2, winRateTarget: q, curvature: 'curvatureGradient', nesterov });
  const next = rng(11);
  const vec = () => Float32Array.from({ length: 8 }, next);
  const [g0, g1, g2, c0] = [vec(), vec(), vec(), vec()];
  const [plain, nest] = [make(false), make(true)];
  let [sp, sn] = [plain.init(new Float32Array(8), tiny), nest.init(new Float32Array(8), tiny)];
  [, sp] = plain.update(g0, sp, undefined, { curvatureGradient: c0 });
  [, sn] = nest.update(g0, sn, undefined, { curvatureGradient: c0 });
  [, sp] = plain.update(g1, sp);
  [, sn] = nest.update(g1, sn);
  t.same(Array.from(sn.m), Array.from(sp.m), 'the first moment is the same EMA with or without');
  const [u2, s3] = nest.update(g2, sn);
  // By hand in float64: m' after g1, g2 (rotated); the look-ahead; the per-block median clip.
  const rg1 = [...rot(sn, g1.subarray(0, 6)), g1[6], g1[7]];
  const rg2 = [...rot(sn, g2.subarray(0, 6)), g2[6], g2[7]];
  const m2 = rg1.map((x, i) => b1 * (1 - b1) * x + (1 - b1) * rg2[i]);
  const look = m2.map((m, i) => b1 * m + (1 - b1) * rg2[i]);
  t.ok(maxErr(s3.m, m2) < 1e-5, "m' = β1·m' + (1 − β1)·G'");
  const clip = (mr: number[], h: number[]) => {
    const ratios = mr.map((m, i) => Math.abs(m) / (h[i] + 1e-15));
    const rho = [...ratios].sort((a, b) => a - b)[Math.floor(q * ratios.length)];
    return mr.map((m, i) => Math.sign(m) * Math.min(Math.abs(m) / (rho * h[i] + 1e-15), 1));
  };
  const h = Array.from(sn.v);
  const expected = [...back(sn, clip(look.slice(0, 6), h.slice(0, 6))), ...clip(look.slice(6), h.slice(6))];
  t.ok(maxErr(u2, expected) < 1e-5, 'the clipped look-ahead, rotated back', {
    found: Array.from(u2),
    wanted: expected,
  });
  // The look-ahead is not m': the plain variant's step differs.
  const [up] = plain.update(g2, sp);
  t.ok(maxErr(up, expected) > 1e-3, "without nesterov the step is that of m'");
});

t.test('before any ĝ the GNB variant takes sign steps in the eigenbasis', async (t) => {
  const opt = scaleBySoapSophia({ curvature: 'curvatureGradient' });
  const next = rng(2);
  let s = opt.init(new Float32Array(8), tiny);
  [, s] = opt.update(Float32Array.from({ length: 8 }, next), s);
  const g = Float32Array.from({ length: 8 }, next);
  const [u, s2] = opt.update(g, s);
  const signs = rot(
    s,
    Array.from(g.subarray(0, 6), (x) => (1 - 0.965) * x),
  ).map(Math.sign);
  t.ok(maxErr(u, [...back(s, signs), Math.sign(g[6]), Math.sign(g[7])]) < 1e-5, 'u = Q_L·sign(m′)·Q_Rᵀ');
  t.equal(findStats(s2)!.winRate, 0, 'everything clipped');
});

t.test(
  'factors from ĝ: L, R are the ĝ EMAs, kept between estimates, the basis diagonalises them',
  async (t) => {
    const sb = 0.8;
    const opt = scaleBySoapSophia({ factors: 'curvature', curvature: 'curvatureGradient', shampooBeta: sb });
    const next = rng(6);
    const vec = () => Float32Array.from({ length: 8 }, next);
    let s = opt.init(new Float32Array(8), tiny);
    [, s] = opt.update(vec(), s); // no ĝ yet: the factors stay zero
    t.ok(
      s.factors[0].L.every((x) => x === 0),
      'no ĝ, no factor',
    );
    const c = vec();
    [, s] = opt.update(vec(), s, undefined, { curvatureGradient: c });
    const cm = Array.from(c.subarray(0, 6));
    const L = matmul64(cm, cm, 3, 2, 3, false, true).map((x) => (1 - sb) * x);
    t.ok(maxErr(s.factors[0].L, L) < 1e-5, 'L = (1 − β_s)·ĝĝᵀ');
    // Built afresh from the first non-zero factor: QᵀLQ is diagonal with a descending diagonal.
    const d = matmul64(matmul64(s.factors[0].QL, L, 3, 3, 3, true), s.factors[0].QL, 3, 3, 3);
    t.ok(Math.max(Math.abs(d[1]), Math.abs(d[2]), Math.abs(d[5])) < 1e-6, 'Q_L diagonalises L');
    t.ok(d[0] >= d[4] && d[4] >= d[8] - 1e-7, 'descending');
    const L1 = s.factors[0].L;
    [, s] = opt.update(vec(), s);
    t.equal(s.factors[0].L, L1, 'no ĝ: the same factor array');
  },
);

t.test('soapSophia: options are checked by name', async (t) => {
  t.throws(() => soapSophia({ winRateTarget: 1 }), /'winRateTarget'/);
  t.throws(() => soapSophia({ winRateTarget: 0 }), /'winRateTarget'/);
  t.throws(() => soapSophia({ curvature: 'hutchinson' as never }), /'curvature'/);
  t.throws(() => soapSophia({ b2: 1 }), /'b2'/);
  t.throws(() => soapSophia({ nesterov: 1 as never }), /'nesterov'/);
  t.throws(() => soapSophia({ rho: 0.04 } as never), /unknown option 'rho'/);
  t.throws(() => soapSophia().init(new Float32Array(3)), /needs the parameter layout/);
});
