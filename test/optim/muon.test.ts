/** Muon: Newton–Schulz against float64, hand-computed steps, the contract checks, skipped non-finite steps. */
import { Packr } from 'msgpackr';
import t from 'tap';
import { symmetricEigen } from '../../src/diagnostics/symmetric-eigen.js';
import { kernelBackends, withKernelBackend } from '../../src/kernels/index.js';
import { gpt } from '../../src/nn/models/gpt.js';
import { tensorLayoutOf } from '../../src/nn/tensor-layout.js';
import {
  applyUpdates,
  injectHyperparams,
  muon,
  newtonSchulzInto,
  scaleByMuon,
  warmupCosineSchedule,
  type GradientTransformation,
  type MuonOptions,
  type TensorLayout,
} from '../../src/optim/index.js';
import { ArrayPool } from '../../src/optim/array-pool.js';
import { applyStep } from '../../src/step/apply.js';
import { type StepState } from '../../src/step/records.js';
import { assertClose, firstDifference } from './helpers.js';
import { matmul64, newtonSchulz64, seeded, transpose64 } from './muon-reference.js';

t.test(
  'Newton–Schulz matches a float64 implementation to float32 rounding, on every matmul backend',
  async (t) => {
    for (const backend of kernelBackends('matmul')) {
      for (const [rows, cols] of [
        [5, 8],
        [8, 5],
        [6, 6],
        [64, 256],
      ]) {
        const g = Float32Array.from(seeded(rows * cols, rows * 100 + cols));
        const out = new Float32Array(rows * cols);
        withKernelBackend(backend, () => newtonSchulzInto(g, rows, cols, 5, out, 2));
        const want = newtonSchulz64(g, rows, cols).map((v) => 2 * v);
        const scale = Math.max(...want.map(Math.abs));
        // Measured ~3e-6 of the largest entry; a wrong coefficient or order is off by > 1e-2.
        assertClose(
          t,
          Array.from(out, (v) => v / scale),
          want.map((v) => v / scale),
          `${backend}: ${rows}×${cols}`,
          2e-5,
        );
      }
    }
    const g = Float32Array.from(seeded(12, 3));
    const copy = g.slice();
    const out = new Float32Array(12);
    newtonSchulzInto(g, 3, 4, 3, out);
    assertClose(t, out, newtonSchulz64(copy, 3, 4, 3), 'nsSteps honoured (3 iterations)', 2e-5);
    const apart = new Float32Array(12);
    newtonSchulzInto(g, 3, 4, 5, apart);
    newtonSchulzInto(g, 3, 4, 5, g);
    t.equal(firstDifference(g, apart), null, 'in place (out = g) equals out of place');
  },
);

t.test("five iterations put every singular value in the quintic's band [0.68, 1.13]", async (t) => {
  for (const [rows, cols] of [
    [24, 40],
    [40, 24],
  ]) {
    const out = new Float32Array(rows * cols);
    newtonSchulzInto(Float32Array.from(seeded(rows * cols, 7)), rows, cols, 5, out);
    const [m, n] = [Math.min(rows, cols), Math.max(rows, cols)];
    const x = rows > cols ? transpose64(Array.from(out), rows, cols) : Array.from(out);
    const sv = Array.from(symmetricEigen(matmul64(x, transpose64(x, m, n), m, n, m), m).values, Math.sqrt);
    t.ok(Math.min(...sv) > 0.67 && Math.max(...sv) < 1.14, `${rows}×${cols}: σ in [0.67, 1.14]`, { sv });
  }
});

// A 2×3 matrix (scale 1), a bias (AdamW) and a 3×2 matrix (scale √1.5).
const layout: TensorLayout = [
  { name: 'w', offset: 0, size: 6, shape: [2, 3], role: 'matrix' },
  { name: 'b', offset: 6, size: 3, shape: [3], role: 'vector' },
  { name: 'v', offset: 9, size: 6, shape: [3, 2], role: 'matrix' },
];
const N = 15;
const options: MuonOptions = {
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 0.2,
  adamLr: 0.05,
  adamB1: 0.8,
  adamB2: 0.9,
  adamEps: 1e-8,
  adamWeightDecay: 0.1,
};

/** Two steps of MuonWithAuxAdam in float64, from muon.py's formulas. */
function reference(p0: number[], grads: number[][], nesterov: boolean): number[] {
  const p = [...p0];
  const buf = new Array<number>(N).fill(0);
  const [m, v] = [new Array<number>(N).fill(0), new Array<number>(N).fill(0)];
  grads.forEach((g, k) => {
    for (const [off, rows, cols] of [
      [0, 2, 3],
      [9, 3, 2],
    ]) {
      const u: number[] = [];
      for (let i = off; i < off + 6; i++) {
        buf[i] = 0.9 * buf[i] + 0.1 * g[i];
        u.push(nesterov ? 0.1 * g[i] + 0.9 * buf[i] : buf[i]);
      }
      const o = newtonSchulz64(u, rows, cols).map((x) => x * Math.sqrt(Math.max(1, rows / cols)));
      for (let i = 0; i < 6; i++) p[off + i] = p[off + i] * (1 - 0.1 * 0.2) - 0.1 * o[i];
    }
    for (let i = 6; i < 9; i++) {
      m[i] = 0.8 * m[i] + 0.2 * g[i];
      v[i] = 0.9 * v[i] + 0.1 * g[i] ** 2;
      const upd = m[i] / (1 - 0.8 ** (k + 1)) / (Math.sqrt(v[i] / (1 - 0.9 ** (k + 1))) + 1e-8);
      p[i] = p[i] * (1 - 0.05 * 0.1) - 0.05 * upd;
    }
  });
  return p;
}

t.test('the first two steps equal a hand computation in float64', async (t) => {
  const p0 = seeded(N, 11);
  const grads = [seeded(N, 12), seeded(N, 13)];
  for (const nesterov of [true, false]) {
    const opt = muon({ ...options, nesterov });
    let p: Float32Array = Float32Array.from(p0);
    let s = opt.init(p, layout);
    for (const [k, g] of grads.entries()) {
      const [u, s2] = opt.update(Float32Array.from(g), s, p);
      [p, s] = [applyUpdates(p, u), s2];
      assertClose(
        t,
        p,
        reference(p0, grads.slice(0, k + 1), nesterov),
        `nesterov ${nesterov}, step ${k + 1}`,
        1e-5,
      );
    }
  }
});

t.test('GPT layout: hidden matrices to Muon, embeddings, LayerNorm and biases to AdamW', async (t) => {
  const model = gpt({ kind: 'gpt', vocabSize: 11, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 8 });
  const gl = tensorLayoutOf(model);
  const s = muon().init(new Float32Array(model.layout.size), gl);
  const covered = (spans: number[]) => spans.reduce((n, x, i) => n + (i % 2 ? x : -x), 0);
  const matrixSize = gl.filter((x) => x.role === 'matrix').reduce((n, x) => n + x.size, 0);
  t.ok(matrixSize > 0);
  t.equal(covered(s.muon.spans), matrixSize, 'Muon gets exactly the matrices');
  t.equal(covered(s.adam.spans), model.layout.size - matrixSize, 'AdamW the rest');
});

/** f = ½‖(W − W*)·D‖²_F for a 4×6 W, D = diag(1 … 100): condition number 10⁴. */
const D2 = [1, 4, 25, 100, 900, 10000];
const target = seeded(24, 5);
const lsq = (w: Float32Array) => Float32Array.from(w, (x, i) => (x - target[i]) * D2[i % 6]);
const single: TensorLayout = [{ name: 'w', offset: 0, size: 24, shape: [4, 6], role: 'matrix' }];

function run(opt: GradientTransformation, p: Float32Array, s: unknown, steps: number, extra = {}) {
  for (let k = 0; k < steps; k++) {
    const [u, s2] = opt.update(lsq(p), s, p, extra);
    [p, s] = [applyUpdates(p, u), s2];
  }
  return { p, s };
}

t.test('converges on an ill-conditioned matrix least-squares problem', async (t) => {
  const steps = 600;
  const lr = warmupCosineSchedule({ peak: 0.05, warmupSteps: 0, decaySteps: steps, endValue: 1e-5 });
  const opt = muon({ lr });
  const p0 = new Float32Array(24);
  const { p } = run(opt, p0, opt.init(p0, single), steps);
  const err = Math.hypot(...Array.from(p, (x, i) => x - target[i]));
  t.ok(err < 1e-2 * Math.hypot(...target), `‖W − W*‖ = ${err}`);
});

t.test(
  'injectHyperparams-wrapped equals unwrapped; checkpoint → restore continues bit for bit',
  async (t) => {
    const opts: MuonOptions = { lr: 0.02, weightDecay: 0.1, adamLr: 0.01 };
    const plain = muon(opts);
    const wrapped = injectHyperparams(muon)(opts);
    const p0 = Float32Array.from(seeded(N, 2));
    const a = run(plain, p0, plain.init(p0, layout), 5);
    const b = run(wrapped, p0, wrapped.init(p0, layout), 5);
    t.equal(firstDifference(b.p, a.p), null, 'wrapped params');
    t.equal(firstDifference((b.s as { inner: unknown }).inner, a.s), null, 'wrapped state');

    const packr = new Packr({ moreTypes: true, structuredClone: true });
    const half = run(plain, p0, plain.init(p0, layout), 2);
    const rest = run(muon(opts), half.p, packr.unpack(packr.pack(half.s)), 3);
    t.equal(firstDifference(rest.p, a.p), null, 'restored params');
    t.equal(firstDifference(rest.s, a.s), null, 'restored state');
  },
);

t.test('pure, and bit-identical with a (poisoned) array pool', async (t) => {
  const opt = muon(options);
  const p = Float32Array.from(seeded(N, 4));
  const g = Float32Array.from(seeded(N, 5));
  const s = opt.init(p, layout);
  const [p1, g1] = [p.slice(), g.slice()];
  const s1 = structuredClone(s);
  const [u] = opt.update(g, s, p);
  t.equal(firstDifference(p, p1), null, 'params untouched');
  t.equal(firstDifference(g, g1), null, 'gradient untouched');
  t.equal(firstDifference(s, s1), null, 'state untouched');
  const pool = new ArrayPool(8, true);
  // Spare arrays of every length the update takes (the whole vector, each group), NaN-filled when taken.
  for (let k = 0; k < 4; k++) for (const n of [3, 12, N]) pool.give(new Float32Array(n));
  const [u2] = opt.update(g, s, p, { arrays: pool });
  t.equal(firstDifference(u2, u), null, 'same updates from pooled arrays');
  t.ok(pool.size < 12, 'the update took arrays from the pool');
});

t.test('a non-finite Newton–Schulz result skips the step, params and state unchanged', async (t) => {
  const opt = muon(options);
  const params = Float32Array.from(seeded(N, 6));
  const good = opt.init(params, layout);
  // A state whose momentum went bad (NaN in one matrix): its orthogonalised update is all NaN.
  const optState = structuredClone(good);
  const inner = optState.muon.inner as [{ momentum: Float32Array }];
  inner[0].momentum[2] = NaN;
  const [u] = opt.update(Float32Array.from(seeded(N, 7)), optState, params);
  t.ok(Number.isNaN(u[0]) && Number.isNaN(u[5]) && Number.isFinite(u[6]), 'NaN spreads over its matrix');

  const state: StepState<typeof optState> = {
    params: params.slice(),
    optState,
    step: 0,
    pending: [],
    skipped: 0,
  };
  const before = params.slice();
  const grad = Float32Array.from(seeded(N, 7));
  const m = applyStep(state, opt, { loss: 1, grad, nonFinite: false }, 1, null, new ArrayPool(8, true));
  t.ok(m.skipped, 'skipped');
  t.equal(state.skipped, 1);
  t.equal(firstDifference(state.params, before), null, 'params unchanged');
  t.equal(state.optState, optState, 'state unchanged');
  t.ok(Number.isNaN(inner[0].momentum[2]) && inner[0].momentum[0] === 0, 'old state intact');
});

t.test('errors name the option or say what is missing', async (t) => {
  const p = new Float32Array(N);
  t.throws(() => muon().init(p), /muon needs the parameter layout/);
  t.throws(() => scaleByMuon().init(p), /scaleByMuon needs the parameter layout/);
  t.throws(
    () => scaleByMuon().init(p, layout),
    /tensor 'b' has role 'vector'; Muon orthogonalises matrices only/,
  );
  t.throws(() => muon({ lr: -1 }), /muon: option 'lr'/);
  t.throws(() => muon({ momentum: 1 }), /muon: option 'momentum'/);
  t.throws(() => muon({ nsSteps: 2.5 }), /muon: option 'nsSteps'/);
  t.throws(() => muon({ nesterov: 1 as unknown as boolean }), /muon: option 'nesterov'/);
  t.throws(() => muon({ weightDecay: -0.1 }), /muon: option 'weightDecay'/);
  t.throws(() => muon({ adamLr: NaN }), /muon: option 'adamLr'/);
  t.throws(() => muon({ adamB1: 1 }), /muon: option 'adamB1'/);
  t.throws(() => muon({ adamB2: -0.5 }), /muon: option 'adamB2'/);
  t.throws(() => muon({ adamEps: -1 }), /muon: option 'adamEps'/);
  t.throws(() => muon({ adamWeightDecay: Infinity }), /muon: option 'adamWeightDecay'/);
  t.throws(() => muon({ betas: [0.9, 0.95] } as MuonOptions), /muon: unknown option 'betas'/);
  const s = scaleByMuon().init(new Float32Array(6), [layout[0]]);
  t.throws(() => scaleByMuon().update(new Float32Array(5), s), /gradient length 5/);
  t.throws(() => scaleByMuon().update(new Float32Array(6), { ...s, matrices: [0, 3, 3] }), /state.matrices/);
  // A layout without matrices is plain AdamW.
  const vecOnly: TensorLayout = [{ name: 'b', offset: 0, size: 3, shape: [3], role: 'vector' }];
  const opt = muon();
  const [u] = opt.update(
    Float32Array.of(1, -2, 3),
    opt.init(new Float32Array(3), vecOnly),
    new Float32Array(3),
  );
  assertClose(t, u, [-3e-4, 3e-4, -3e-4], 'AdamW step of size adamLr', 1e-6);
});
