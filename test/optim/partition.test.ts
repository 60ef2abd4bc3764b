/** partition (optax.multi_transform): groups by layout label, rebased sub-layouts, checkpoints, the array pool. */
import { Packr } from 'msgpackr';
import t from 'tap';
import {
  adamw,
  applyUpdates,
  partition,
  sgd,
  sophiaG,
  type GradientTransformation,
  type TensorLayout,
  type UpdateExtra,
} from '../../src/optim/index.js';
import { ArrayPool } from '../../src/optim/array-pool.js';
import { firstDifference } from './helpers.js';

// Interleaved groups: a, c → 'x'; b, d → 'y'; e → 'x' again but adjacent to d only.
const layout: TensorLayout = [
  { name: 'a', offset: 0, size: 6, shape: [2, 3], role: 'matrix' },
  { name: 'b', offset: 6, size: 3, shape: [3], role: 'vector' },
  { name: 'c', offset: 9, size: 4, shape: [2, 2], role: 'matrix' },
  { name: 'd', offset: 13, size: 2, shape: [2], role: 'vector' },
  { name: 'e', offset: 15, size: 6, shape: [3, 2], role: 'matrix' },
];
const N = 21;
const byRole = (slot: { role: string }) => (slot.role === 'matrix' ? 'x' : 'y');
const xIdx = [...Array(6).keys(), 9, 10, 11, 12, 15, 16, 17, 18, 19, 20];
const yIdx = [6, 7, 8, 13, 14];

const vec = (n: number, seed: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));
const pick = (v: Float32Array, idx: number[]): Float32Array => Float32Array.from(idx, (i) => v[i]);
const members = () => ({ x: adamw({ lr: 0.01, weightDecay: 0.1 }), y: sgd({ lr: 0.1, momentum: 0.9 }) });

t.test('equals each member run on its own sub-vector, bit for bit', async (t) => {
  const m = members();
  const part = partition(members(), byRole);
  let p = vec(N, 1);
  let s = part.init(p, layout);
  let px = pick(p, xIdx);
  let py = pick(p, yIdx);
  let sx = m.x.init(px);
  let sy = m.y.init(py);
  for (let step = 0; step < 4; step++) {
    const g = vec(N, step + 2);
    const p0 = p.slice();
    const g0 = g.slice();
    const [u, s2] = part.update(g, s, p);
    t.equal(firstDifference(g, g0), null, 'gradient untouched');
    t.equal(firstDifference(p, p0), null, 'params untouched');
    const [ux, sx2] = m.x.update(pick(g, xIdx), sx, px);
    const [uy, sy2] = m.y.update(pick(g, yIdx), sy, py);
    t.equal(firstDifference(pick(u, xIdx), ux), null, `step ${step}: group x`);
    t.equal(firstDifference(pick(u, yIdx), uy), null, `step ${step}: group y`);
    t.equal(firstDifference(s2.x.inner, sx2), null, `step ${step}: state x`);
    t.equal(firstDifference(s2.y.inner, sy2), null, `step ${step}: state y`);
    [p, s, px, py, sx, sy] = [applyUpdates(p, u), s2, applyUpdates(px, ux), applyUpdates(py, uy), sx2, sy2];
  }
  t.same(s.x.spans, [0, 6, 9, 13, 15, 21], 'adjacent tensors of a group merge into one run');
  t.same(s.y.spans, [6, 9, 13, 15]);
});

t.test('members see their tensors rebased to their sub-vector, and the curvature sliced', async (t) => {
  const seen: Record<
    string,
    { length: number; layout?: TensorLayout; diag?: Float32Array; cg?: Float32Array; pair?: unknown }
  > = {};
  const spy = (name: string): GradientTransformation => ({
    init(params, l) {
      seen[name] = { length: params.length, layout: l };
      return {};
    },
    update(grads, state, _params, extra?: UpdateExtra) {
      seen[name].diag = extra?.hessianDiag?.slice();
      seen[name].cg = extra?.curvatureGradient?.slice();
      seen[name].pair = extra?.hessianPair;
      return [grads.slice(), state];
    },
  });
  const part = partition({ x: spy('x'), y: spy('y') }, byRole);
  const s = part.init(vec(N, 1), layout);
  t.equal(seen.x.length, 16);
  t.same(
    seen.x.layout!.map((l) => [l.name, l.offset, l.size, l.shape]),
    [
      ['a', 0, 6, [2, 3]],
      ['c', 6, 4, [2, 2]],
      ['e', 10, 6, [3, 2]],
    ],
  );
  t.same(
    seen.y.layout!.map((l) => [l.name, l.offset]),
    [
      ['b', 0],
      ['d', 3],
    ],
  );
  const diag = Float32Array.from({ length: N }, (_, i) => i);
  const g = vec(N, 3);
  const cg = Float32Array.from({ length: N }, (_, i) => -i);
  const pair = { v: vec(N, 4), hv: vec(N, 5) };
  const [u] = part.update(g, s, undefined, { hessianDiag: diag, curvatureGradient: cg, hessianPair: pair });
  t.same(Array.from(seen.y.diag!), yIdx, 'hessianDiag gathered for the group');
  t.same(
    Array.from(seen.x.cg!),
    xIdx.map((i) => -i),
    'curvatureGradient gathered for the group',
  );
  t.equal(seen.x.pair, pair, 'a Hessian-vector pair is passed on whole');
  t.equal(firstDifference(u, g), null, 'identity members scatter back to the same vector');
});

t.test('checkpoint → restore into a fresh partition → continue, bit for bit', async (t) => {
  const packr = new Packr({ moreTypes: true, structuredClone: true });
  const make = () => partition({ x: sophiaG({ lr: 0.01 }), y: sgd({ lr: 0.1, momentum: 0.9 }) }, byRole);
  const run = (opt: GradientTransformation, p: Float32Array, s: unknown, from: number, steps: number) => {
    for (let k = from; k < from + steps; k++) {
      const extra = { batchSize: 4, ...(k % 2 === 0 ? { hessianDiag: vec(N, 40 + k).map(Math.abs) } : {}) };
      const [u, s2] = opt.update(vec(N, 10 + k), s, p, extra);
      [p, s] = [applyUpdates(p, u), s2];
    }
    return { p, s };
  };
  const a = make();
  const p0 = vec(N, 5);
  const full = run(a, p0, a.init(p0, layout), 0, 6);
  const half = run(a, p0, a.init(p0, layout), 0, 3);
  const restored = packr.unpack(packr.pack(half.s));
  const b = make();
  const rest = run(b, half.p, restored, 3, 3);
  t.equal(firstDifference(rest.p, full.p), null, 'params');
  t.equal(firstDifference(rest.s, full.s), null, 'state');
});

t.test('with and without an array pool (poisoned), bit for bit', async (t) => {
  const part = partition(members(), byRole);
  const pool = new ArrayPool(8, true);
  let [p1, p2] = [vec(N, 1), vec(N, 1)];
  let s1 = part.init(p1, layout);
  let s2 = part.init(p2, layout);
  for (let k = 0; k < 6; k++) {
    const g = vec(N, 20 + k);
    const [u1, n1] = part.update(g, s1, p1);
    const [u2, n2] = part.update(g, s2, p2, { arrays: pool });
    t.equal(firstDifference(u2, u1), null, `step ${k}: updates`);
    t.equal(firstDifference(n2, n1), null, `step ${k}: state`);
    [p1, s1] = [applyUpdates(p1, u1), n1];
    p2 = applyUpdates(p2, u2);
    // As the pipeline recycles: the replaced state's unshared arrays and the fresh updates.
    pool.giveUnshared(s2, n2);
    pool.give(u2);
    s2 = n2;
  }
  t.ok(pool.size > 0, 'the pool was used');
});

t.test('errors', async (t) => {
  t.throws(() => partition({}, byRole), /at least one/);
  t.throws(() => partition({ x: {} as GradientTransformation }, byRole), /transforms\.x is not/);
  const part = partition(members(), byRole);
  t.throws(() => part.init(vec(N, 1)), /partition needs the parameter layout/);
  t.throws(() => part.init(vec(N + 1, 1), layout), /cover 21 of the 22 coordinates/);
  t.throws(
    () => partition({ x: sgd({ lr: 1 }) }, byRole).init(vec(N, 1), layout),
    /tensor 'b' is labelled "y", which has no transformation/,
  );
  const s = part.init(vec(N, 1), layout);
  t.throws(
    () => part.update(vec(N - 1, 1), s, vec(N - 1, 1)),
    /gradient length 20 does not match layout length 21/,
  );
  t.throws(() => part.update(vec(N, 1), { ...s, x: { spans: [3, 1], inner: s.x.inner } }), /spans must be/);
});
