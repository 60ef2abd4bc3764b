/**
 * The fused attention/MLP primitives — causalSoftmax, the one-kernel softmax VJP and the one-kernel
 * GELU VJP — checked in float64 against central differences: their gradients, and their Hessian-vector
 * products (double backward through the fused VJPs, including the paths where the upstream gradient
 * itself depends on the input, so each fused VJP's own VJP for both of its arguments is exercised).
 * tanh's one-kernel VJP is held to its primitive form bit for bit. The causal softmax is also held to
 * the masked composite it replaces, and the float32 kernels to float64 Math.tanh / Math.exp formulas
 * at float32 precision.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  type Tensor,
  add,
  causalSoftmax,
  exp,
  gelu,
  grad,
  hvp,
  logSoftmax,
  matmul,
  mul,
  noGrad,
  pow,
  reshape,
  slice,
  softmax,
  sub,
  sum,
  tanh,
  tensor,
  where,
} from '../../src/tensor/index.js';
import { kernelBackends, resetKernelBackend, useKernelBackend } from '../../src/kernels/index.js';
import { F32_BACKEND } from '../../src/kernels/wasm-f32/index.js';
import { count, normals } from '../helpers/random.js';
import { WorstErrors, checkProperty, f64, gradcheck, mixedError } from '../helpers/finite-diff.js';
import { type HvpFamily, checkHvpFamilies, readout } from '../helpers/fused-checks.js';

const TOL = 1e-6;
const log_ = new WorstErrors();
const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

/** The [T, T] causal mask as a float64 constant (1 on and below the diagonal). */
function mask(tt: number): Tensor {
  return f64(
    Array.from({ length: tt * tt }, (_, k) => (k % tt <= Math.floor(k / tt) ? 1 : 0)),
    [tt, tt],
  );
}

const attnArb = fc.record({
  lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }),
  tt: fc.integer({ min: 1, max: 5 }),
  seed: seedArb,
});

t.test('causalSoftmax equals softmax(where(mask, x, −1e9)), forward, in float64 and float32', async (t) => {
  checkProperty(
    t,
    log_,
    'causalSoftmax forward',
    attnArb,
    ({ lead, tt, seed }) => {
      const shape = [...lead, tt, tt];
      const x = normals(count(shape), seed).map((v) => 3 * v);
      const got = causalSoftmax(f64(x, shape)).data;
      const want = softmax(where(mask(tt), f64(x, shape), -1e9)).data;
      const want32 = softmax(where(mask(tt), f64(Float32Array.from(x), shape), -1e9)).data;
      let worst = mixedError(got, want);
      // float32, on every backend of the kernel, against the float64 composite on the same
      // (float32-rounded) inputs, scaled so that the backend's budget maps onto this property's
      // 1.2e-12: the exact backends round each output once (≤ 1.2e-7); the float32 one ('wasm-f32')
      // is within (⌈w/4⌉ + 8 + |ln y| + ln w)·u·y (softmax-check.ts), ≤ 12u for rows of w ≤ 5.
      for (const backend of kernelBackends('causalSoftmax')) {
        useKernelBackend('causalSoftmax', backend);
        let got32: ArrayLike<number>;
        try {
          got32 = causalSoftmax(tensor(Float32Array.from(x), shape)).data;
        } finally {
          resetKernelBackend('causalSoftmax');
        }
        for (let k = 0; k < got.length; k++) {
          const col = k % tt;
          const row = Math.floor(k / tt) % tt;
          if (col > row && (got[k] !== 0 || got32[k] !== 0)) return Infinity; // masked: exact zeros
        }
        const budget = backend === F32_BACKEND ? 12 * 2 ** -24 : 1.2e-7;
        worst = Math.max(worst, mixedError(got32, want32) * (1.2e-12 / budget));
      }
      return worst;
    },
    1.2e-12,
  );
  t.throws(() => causalSoftmax(f64([1, 2, 3, 4, 5, 6], [2, 3])), /must be \[\.\.\., T, T\].*\[2, 3\]/);
  t.throws(() => causalSoftmax(f64([1, 2], [2])), /must be \[\.\.\., T, T\]/);
  t.equal(causalSoftmax(f64([], [0, 3, 3])).size, 0, 'empty batch');
});

t.test('gradients of causalSoftmax, softmax and gelu (fused VJPs) against central differences', async (t) => {
  checkProperty(
    t,
    log_,
    'causalSoftmax grad',
    attnArb,
    ({ lead, tt, seed }) => {
      const shape = [...lead, tt, tt];
      return gradcheck(causalSoftmax, [f64(normals(count(shape), seed), shape)], seed).error;
    },
    TOL,
  );
  const shapeArb = fc.record({
    shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 }),
    seed: seedArb,
  });
  checkProperty(
    t,
    log_,
    'gelu grad',
    shapeArb,
    ({ shape, seed }) =>
      gradcheck(
        gelu,
        [
          f64(
            normals(count(shape), seed).map((v) => 2 * v),
            shape,
          ),
        ],
        seed,
      ).error,
    TOL,
  );
  checkProperty(
    t,
    log_,
    'softmax grad',
    shapeArb,
    ({ shape, seed }) =>
      shape.length === 0
        ? 0
        : gradcheck((x) => softmax(x, -1), [f64(normals(count(shape), seed), shape)], seed).error,
    TOL,
  );
});

/**
 * HVPs through functions whose upstream gradients depend on x (squares, products with a second
 * branch), so that double backward differentiates each fused VJP in both of its arguments.
 */
t.test('HVPs through the fused VJPs against finite differences of the gradient', async (t) => {
  const families: HvpFamily[] = [
    {
      name: 'causalSoftmax (attention: scores from q·kᵀ, weights times v)',
      n: (tt) => 3 * tt * 2,
      f: (tt, seed) => (theta) => {
        const [q, k, v] = [0, 1, 2].map((i) => reshape(slice(theta, [i * tt * 2], [tt * 2]), [tt, 2]));
        const att = causalSoftmax(matmul(q, k, { transB: true }));
        return add(readout(pow(matmul(att, v), 2), seed, 'y'), readout(pow(att, 2), seed, 'a'));
      },
    },
    {
      name: 'softmax (last axis, squared)',
      n: (tt) => 2 * tt,
      f: (tt, seed) => (theta) => readout(pow(softmax(reshape(theta, [2, tt]), -1), 2), seed, 's'),
    },
    {
      name: 'gelu (squared, and times tanh of itself)',
      n: (tt) => 2 * tt,
      f: (tt, seed) => (theta) => {
        const x = reshape(theta, [2, tt]);
        return add(readout(pow(gelu(x), 2), seed, 'g2'), readout(mul(gelu(x), tanh(x)), seed, 'gt'));
      },
    },
  ];
  checkHvpFamilies(t, log_, families);
});

t.test(
  'float32 GELU, GELU VJP and softmax match float64 Math.tanh / Math.exp to float32 precision',
  async (t) => {
    // A dense grid over the active range plus tails where tanh saturates and exp over/underflows.
    const xs: number[] = [];
    for (let v = -12; v <= 12; v += 0.0037) xs.push(v);
    xs.push(-1e4, -50, -20, -9.5, 0, 1e-30, -1e-30, 1e-8, 20, 50, 1e4);
    const x32 = Float32Array.from(xs);
    const g32 = Float32Array.from(xs, (_, i) => Math.cos(i));
    const c = Math.sqrt(2 / Math.PI);
    const y = noGrad(() => gelu(tensor(x32, [x32.length])));
    // The gradient of Σ g·GELU(x) is g ⊙ GELU′(x): one call of the fused GELU VJP kernel.
    const gradient = grad((z: Tensor) => sum(mul(gelu(z), tensor(g32, [g32.length]))))(
      tensor(x32, [x32.length]),
    );
    let worstY = 0;
    let worstG = 0;
    for (let i = 0; i < x32.length; i++) {
      const v = x32[i];
      const u = c * (v + 0.044715 * v * v * v);
      const th = Math.tanh(u);
      const want = 0.5 * v * (1 + th);
      const sech2 = 1 - th * th;
      const wantG = g32[i] * (0.5 * (1 + th) + 0.5 * v * sech2 * c * (1 + 3 * 0.044715 * v * v));
      worstY = Math.max(
        worstY,
        Math.abs(y.data[i] - want) / Math.max(Math.abs(want), 1e-30 + Math.abs(v) * 1e-7, 1e-37),
      );
      worstG = Math.max(worstG, Math.abs(gradient.data[i] - wantG) / Math.max(1, Math.abs(wantG)));
    }
    // Relative to |GELU(x)| (with an absolute floor of float32 rounding at |x|·2⁻²⁴ for the tails).
    t.ok(worstY <= 2.5e-7, `gelu float32 vs Math.tanh: worst relative error ${worstY.toExponential(2)}`);
    t.ok(worstG <= 2.5e-7, `gelu VJP float32 vs Math.tanh: worst error ${worstG.toExponential(2)}`);
    // Softmax rows with a wide spread of logits, including entries that underflow.
    const rows = 7;
    const cols = 37;
    const logits = Float32Array.from(normals(rows * cols, 7, 'sm'), (v, k) => v * (1 + (k % 5) * 10));
    const s = softmax(tensor(logits, [rows, cols]), -1).data;
    let worstS = 0;
    for (let r = 0; r < rows; r++) {
      let m = -Infinity;
      for (let j = 0; j < cols; j++) m = Math.max(m, logits[r * cols + j]);
      let z = 0;
      for (let j = 0; j < cols; j++) z += Math.exp(logits[r * cols + j] - m);
      for (let j = 0; j < cols; j++) {
        const want = Math.exp(logits[r * cols + j] - m) / z;
        worstS = Math.max(worstS, Math.abs(s[r * cols + j] - want));
      }
    }
    t.ok(worstS <= 1.2e-7, `softmax float32 vs Math.exp: worst absolute error ${worstS.toExponential(2)}`);
  },
);

t.test("logSoftmax's one-kernel VJP is the primitives' g − exp(y)·Σg bit for bit", async (t) => {
  // The exact backends' promise (registry.ts, LogSoftmaxVjpKernel): select one. The float32 backend,
  // the default where it registers, agrees within its bound instead (test/kernels/f32-softmax.test.ts).
  useKernelBackend('logSoftmaxVjp', kernelBackends('logSoftmaxVjp').includes('wasm') ? 'wasm' : 'cpu');
  t.teardown(() => resetKernelBackend('logSoftmaxVjp'));
  // Odd shapes, logits wide enough that some exponentials underflow; float32 and float64.
  for (const [rows, cols, seed] of [
    [1, 1, 1],
    [3, 5, 2],
    [7, 89, 3],
    [33, 17, 4],
  ]) {
    for (const f32 of [true, false]) {
      const xs = normals(rows * cols, seed, 'lsx').map((v, k) => v * (1 + (k % 7) * 8));
      const gs = normals(rows * cols, seed, 'lsg');
      const mk = (v: ArrayLike<number>): Tensor =>
        f32 ? tensor(Float32Array.from(v), [rows, cols]) : f64(Array.from(v), [rows, cols]);
      const g = mk(gs);
      const got = grad((x) => sum(mul(logSoftmax(x), g)))(mk(xs)).data;
      const want = noGrad(() => {
        const y = logSoftmax(mk(xs));
        return sub(g, mul(exp(y), sum(g, -1, true)));
      }).data;
      let same = got.length === want.length;
      for (let k = 0; k < want.length && same; k++) same = Object.is(got[k], want[k]);
      t.ok(same, `${rows}×${cols} ${f32 ? 'float32' : 'float64'}: same bits`);
    }
  }
});

t.test(
  "tanh's one-kernel VJP is the primitives' g·(1 − y·y) bit for bit, and double backward still works",
  async (t) => {
    for (const n of [1, 63, 64, 301, 8200]) {
      for (const f32 of [true, false]) {
        const mk = (v: ArrayLike<number>): Tensor =>
          f32 ? tensor(Float32Array.from(v), [n]) : f64(Array.from(v), [n]);
        const xs = normals(n, n, 'tx').map((v) => 3 * v);
        const g = mk(normals(n, n, 'tg'));
        const got = grad((x) => sum(mul(tanh(x), g)))(mk(xs)).data;
        const want = noGrad(() => {
          const y = tanh(mk(xs));
          return mul(g, sub(1, mul(y, y)));
        }).data;
        let same = got.length === want.length;
        for (let k = 0; k < want.length && same; k++) same = Object.is(got[k], want[k]);
        t.ok(same, `n = ${n} ${f32 ? 'float32' : 'float64'}: same bits`);
      }
    }
    // Hessian of Σ tanh(x)·c: diagonal −2·c·tanh(x)·(1 − tanh²x), through the primitive backward.
    const xs = [0.3, -1.2, 2.5, 0];
    const c = f64([1, 2, -0.5, 3], [4]);
    const hv = hvp((x) => sum(mul(tanh(x), c)), f64(xs, [4]), f64([1, 1, 1, 1], [4]));
    const want = xs.map((x, i) => -2 * [1, 2, -0.5, 3][i] * Math.tanh(x) * (1 - Math.tanh(x) ** 2));
    for (let i = 0; i < 4; i++)
      t.ok(Math.abs(hv.data[i] - want[i]) < 1e-14, `H·1 [${i}] ${hv.data[i]} vs ${want[i]}`);
  },
);

t.test('summary', async (t) => {
  t.comment(log_.summary());
  t.pass('worst errors logged');
});
