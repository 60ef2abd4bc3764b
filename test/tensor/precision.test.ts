/**
 * float32 against float64 on a 2-layer tanh MLP: the loss, the gradient and the HVP computed from the
 * same numbers (every input is rounded to float32 first, then used in both dtypes) must agree within
 * float32 rounding, relative error ≤ 1e-4. The parameters are one flat vector, viewed per layer with
 * slice + reshape, which is zero copy in both dtypes.
 */
import fc from 'fast-check';
import t from 'tap';
import { type DType, type Tensor, tensor, valueGradHvp } from '../../src/tensor/index.js';
import { ints, normals } from '../helpers/random.js';
import { WorstErrors, checkProperty } from '../helpers/finite-diff.js';
import { type MlpSizes, mlpLoss, mlpParamCount, mlpParams } from '../helpers/mlp.js';

const TOL = 1e-4;
const log_ = new WorstErrors();

/** Relative error of a against the reference b: |a − b| / max(|b|, tiny). */
const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

/**
 * Vector relative error: the largest |a_i − b_i| over ‖b‖_∞. Entry-by-entry relative error is not
 * meaningful for entries that are near zero by cancellation; this measures the error on the scale of
 * the vector, as float32 rounding does.
 */
function vectorError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
  }
  return a.length === b.length ? worst / Math.max(scale, 1e-300) : Infinity;
}

/** Values representable in float32, as float64 numbers: both dtypes then start from identical data. */
const fround = (xs: Float64Array) => xs.map(Math.fround);

function problem(s: MlpSizes, batch: number, seed: number, dtype: DType) {
  const p = mlpParamCount(s);
  const x = tensor(Array.from(fround(normals(batch * s.inputs, seed, 'X'))), [batch, s.inputs], dtype);
  const targets = ints(batch, s.classes, seed, 'y');
  const theta = tensor(Array.from(fround(normals(p, seed, 'theta').map((v) => 0.5 * v))), [p], dtype);
  const v = tensor(Array.from(fround(normals(p, seed, 'v'))), [p], dtype);
  return { f: mlpLoss(s, x, targets), theta, v };
}

const arb = fc.record({
  inputs: fc.integer({ min: 2, max: 12 }),
  hidden: fc.integer({ min: 2, max: 24 }),
  classes: fc.integer({ min: 2, max: 6 }),
  batch: fc.integer({ min: 1, max: 32 }),
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
});

t.test('float32 agrees with float64 on an MLP loss, gradient and HVP', async (t) => {
  const measure = (which: 'loss' | 'gradient' | 'HVP') => (c: MlpSizes & { batch: number; seed: number }) => {
    const s: MlpSizes = { inputs: c.inputs, hidden: c.hidden, classes: c.classes };
    const r32 = problem(s, c.batch, c.seed, 'float32');
    const r64 = problem(s, c.batch, c.seed, 'float64');
    const [l32, g32, h32] = valueGradHvp(r32.f, r32.theta, r32.v);
    const [l64, g64, h64] = valueGradHvp(r64.f, r64.theta, r64.v);
    for (const x of [l32, g32, h32])
      if (x.dtype !== 'float32') throw new Error(`float32 run returned ${x.dtype}`);
    for (const x of [l64, g64, h64])
      if (x.dtype !== 'float64') throw new Error(`float64 run returned ${x.dtype}`);
    if (which === 'loss') return relative(l32.item(), l64.item());
    if (which === 'gradient') return vectorError(g32.data, g64.data);
    return vectorError(h32.data, h64.data);
  };
  checkProperty(t, log_, 'loss', arb, measure('loss'), TOL, 12);
  checkProperty(t, log_, 'gradient', arb, measure('gradient'), TOL, 12);
  checkProperty(t, log_, 'HVP', arb, measure('HVP'), TOL, 12);
});

t.test(
  'a fixed MLP 8-16-4 at batch 32: every gradient and HVP entry within 1e-4 of its own size or the vector scale',
  async (t) => {
    const s: MlpSizes = { inputs: 8, hidden: 16, classes: 4 };
    const r32 = problem(s, 32, 2024, 'float32');
    const r64 = problem(s, 32, 2024, 'float64');
    const [l32, g32, h32] = valueGradHvp(r32.f, r32.theta, r32.v);
    const [l64, g64, h64] = valueGradHvp(r64.f, r64.theta, r64.v);
    const lossErr = relative(l32.item(), l64.item());
    t.ok(lossErr <= TOL, `loss ${l64.item()} relative error ${lossErr.toExponential(2)}`);
    for (const [name, a, b] of [
      ['gradient', g32, g64],
      ['HVP', h32, h64],
    ] as [string, Tensor, Tensor][]) {
      const e = vectorError(a.data, b.data);
      log_.record(`${name} (fixed)`, e);
      t.ok(e <= TOL, `${name}: ‖Δ‖∞/‖${name}‖∞ = ${e.toExponential(2)}`);
      // And the ≥ 1e-3-of-scale entries, one by one.
      let scale = 0;
      for (const x of b.data) scale = Math.max(scale, Math.abs(x));
      let worst = 0;
      for (let i = 0; i < b.size; i++)
        if (Math.abs(b.data[i]) >= 1e-3 * scale) worst = Math.max(worst, relative(a.data[i], b.data[i]));
      log_.record(`${name} (fixed, per entry ≥ 1e-3·scale)`, worst);
      t.ok(
        worst <= TOL,
        `${name}: worst per-entry relative error ${worst.toExponential(2)} on entries ≥ 1e-3 of scale`,
      );
    }
    log_.record('loss (fixed)', lossErr);
    // float32 really is float32: it differs from float64 by more than float64 rounding would.
    t.ok(lossErr > 1e-12 || vectorError(g32.data, g64.data) > 1e-12, 'the float32 run rounds in float32');
  },
);

t.test('parameter views are zero copy slices of the flat vector, in both dtypes', async (t) => {
  const s: MlpSizes = { inputs: 3, hidden: 4, classes: 2 };
  for (const dtype of ['float32', 'float64'] as const) {
    const theta = tensor(Array.from(normals(mlpParamCount(s), 1, 'theta')), [mlpParamCount(s)], dtype);
    const views = mlpParams(s, theta);
    t.strictSame(
      views.map((v) => v.shape),
      [[4, 3], [4], [2, 4], [2]],
      `${dtype}: shapes`,
    );
    t.ok(
      views.every((v) => v.data.buffer === theta.data.buffer && v.dtype === dtype),
      `${dtype}: every view shares θ's buffer`,
    );
    t.equal(views[2].data[0], theta.data[4 * 3 + 4], `${dtype}: W2[0,0] is θ[16]`);
  }
});

t.test('report', async (t) => {
  t.comment(`worst float32-vs-float64 relative errors (tolerance ${TOL}):\n${log_.summary()}`);
  t.ok(log_.overall() <= TOL, `overall worst ${log_.overall().toExponential(2)}`);
});
