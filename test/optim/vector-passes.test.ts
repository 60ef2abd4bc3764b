/**
 * The optimizer passes that run on the vector kernels (src/kernels/wasm/vector-ops.ts) against float64
 * references rounded with Math.fround: applying updates into shared params, the learning-rate scale,
 * unmasked and masked weight decay and the norm of normIfFinite, at the coordinator's size and below the
 * kernels' size threshold.
 */
import t from 'tap';
import { addVectorInto, applyUpdates, applyUpdatesInPlace } from '../../src/optim/apply.js';
import { globalNorm, normIfFinite } from '../../src/optim/clip.js';
import { scaleByLearningRate } from '../../src/optim/learning-rate.js';
import { addDecayedWeights } from '../../src/optim/weight-decay.js';
import { normals } from '../helpers/random.js';

const SIZES = [0, 1, 7, 300, 269322];

function vector(n: number, seed: number, scale = 1): Float32Array {
  return Float32Array.from(normals(n, seed, 'vector-passes'), (v) => v * scale);
}

function shared(v: Float32Array, at = 1): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer((v.length + 2) * 4)).subarray(at, at + v.length);
  out.set(v);
  return out;
}

/** Index of the first element where got and want differ (Object.is), or -1. */
function firstDifference(got: Float32Array, want: ArrayLike<number>): number {
  if (got.length !== want.length) return -2;
  for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) return i;
  return -1;
}

t.test('applyUpdatesInPlace and addVectorInto add in float32 into shared params', async (t) => {
  for (const n of SIZES) {
    const [p, u] = [vector(n, n + 1), vector(n, n + 2, 1e-3)];
    const want = Float64Array.from(p, (x, i) => Math.fround(x + u[i]));
    const params = shared(p);
    t.equal(applyUpdatesInPlace(params, u), params, `n ${n}: returns params`);
    t.equal(firstDifference(params, want), -1, `n ${n}: in place`);
    const fresh = applyUpdates(p, u);
    t.equal(firstDifference(fresh, want), -1, `n ${n}: applyUpdates agrees`);
    t.ok(
      fresh !== p && firstDifference(p, vector(n, n + 1)) === -1,
      `n ${n}: applyUpdates leaves params as they were`,
    );
    t.equal(firstDifference(applyUpdates(shared(p), u), want), -1, `n ${n}: applyUpdates of a shared view`);
    const dst = shared(p, 0);
    t.equal(addVectorInto(dst, shared(u)), dst, `n ${n}: addVectorInto returns dst`);
    t.equal(firstDifference(dst, want), -1, `n ${n}: addVectorInto`);
    t.equal(firstDifference(u, vector(n, n + 2, 1e-3)), -1, `n ${n}: updates untouched`);
  }
  t.throws(() => addVectorInto(new Float32Array(3), new Float32Array(4)), RangeError, 'lengths must match');
});

t.test('scaleByLearningRate scales by the float64 factor, rounding once', async (t) => {
  const lr = (step: number) => [1e-3 * Math.PI, 0.1, 3e-4][step];
  for (const n of SIZES) {
    const g = vector(n, n + 3);
    const opt = scaleByLearningRate(lr);
    let state = opt.init(g);
    for (let step = 0; step < 3; step++) {
      const want = Float64Array.from(g, (x) => Math.fround(-lr(step) * x));
      const [out, next] = opt.update(g, state);
      t.equal(firstDifference(out, want), -1, `n ${n} step ${step}: update`);
      const inPlace = shared(g);
      opt.updateInPlace!(inPlace, state);
      t.equal(firstDifference(inPlace, want), -1, `n ${n} step ${step}: updateInPlace`);
      state = next;
    }
    t.equal(firstDifference(g, vector(n, n + 3)), -1, `n ${n}: grads untouched by update`);
  }
});

t.test('addDecayedWeights adds wd·θ in float64, masked or not', async (t) => {
  const wd = 0.1 / 3;
  for (const n of SIZES) {
    const [g, p] = [vector(n, n + 4, 1e-2), shared(vector(n, n + 5))];
    const mask = Uint8Array.from({ length: n }, (_, i) => i % 3);
    const all = Float64Array.from(g, (x, i) => Math.fround(x + wd * p[i]));
    const masked = Float64Array.from(g, (x, i) => (mask[i] ? all[i] : x));
    const opt = addDecayedWeights(wd);
    const [out] = opt.update(g, {}, p);
    t.equal(firstDifference(out, all), -1, `n ${n}: update`);
    const inPlace = g.slice();
    opt.updateInPlace!(inPlace, {}, p);
    t.equal(firstDifference(inPlace, all), -1, `n ${n}: updateInPlace`);
    const [m] = addDecayedWeights(wd, mask).update(g, {}, p);
    t.equal(firstDifference(m, masked), -1, `n ${n}: masked`);
    t.equal(firstDifference(g, vector(n, n + 4, 1e-2)), -1, `n ${n}: grads untouched by update`);
  }
});

t.test('normIfFinite: the norm within rounding of globalNorm, finiteness exact', async (t) => {
  for (const n of SIZES) {
    const v = shared(vector(n, n + 6));
    const { norm, finite } = normIfFinite(v);
    const ref = globalNorm(v);
    t.ok(finite, `n ${n}: finite`);
    t.ok(Math.abs(norm - ref) <= 1e-12 * ref, `n ${n}: ${norm} vs ${ref}`);
    if (n === 0) continue;
    for (const bad of [NaN, Infinity, -Infinity]) {
      const w = v.slice();
      w[n - 1] = bad;
      t.notOk(normIfFinite(w).finite, `n ${n}: ${bad} is not finite`);
    }
  }
  t.same(normIfFinite(Float32Array.from({ length: 1000 }, (_, i) => (i % 5) - 2)), {
    norm: Math.sqrt(2000),
    finite: true,
  });
});
