/**
 * The fused layer primitives — fusedLayerNorm (normalise, gain, bias in one kernel, one-kernel
 * backward) and affine (x·wᵀ + b with the bias added in place) — against the composites they replace,
 * with gradients and Hessian-vector products checked in float64 against central differences.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  add,
  affine,
  fusedLayerNorm,
  layerNorm,
  matmul,
  mul,
  pow,
  reshape,
  slice,
  tanh,
} from '../../src/tensor/index.js';
import { count, normals } from '../helpers/random.js';
import { WorstErrors, checkProperty, f64, gradcheck, mixedError } from '../helpers/finite-diff.js';
import { type HvpFamily, checkHvpFamilies, lnRows, readout } from '../helpers/fused-checks.js';

const TOL = 1e-6;
const log_ = new WorstErrors();
const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

t.test(
  'fusedLayerNorm equals the composite layerNorm; its gradients match central differences',
  async (t) => {
    const arb = fc.record({
      lead: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 2 }),
      // c ≥ 3: with two columns the jittered ramp can leave a row's variance below eps, where central
      // differences of the (nearly constant) normalisation are ill-conditioned, as for the composite.
      c: fc.integer({ min: 3, max: 6 }),
      seed: seedArb,
    });
    const inputsOf = (lead: number[], c: number, seed: number) => [
      f64(lnRows(count(lead), c, seed), [...lead, c]),
      f64(normals(c, seed, 'gain'), [c]),
      f64(normals(c, seed, 'bias'), [c]),
    ];
    checkProperty(
      t,
      log_,
      'fusedLayerNorm forward',
      arb,
      ({ lead, c, seed }) => {
        const [x, g, b] = inputsOf(lead, c, seed);
        return mixedError(fusedLayerNorm(x, g, b).data, layerNorm(x, g, b).data);
      },
      1e-13,
    );
    checkProperty(
      t,
      log_,
      'fusedLayerNorm grad',
      arb,
      ({ lead, c, seed }) =>
        gradcheck((x, g, b) => fusedLayerNorm(x, g, b), inputsOf(lead, c, seed), seed).error,
      TOL,
    );
    t.throws(
      () => fusedLayerNorm(f64([1, 2, 3, 4], [2, 2]), f64([1, 2, 3], [3]), f64([0, 0], [2])),
      /gain \[3\] and bias \[2\] must be \[2\] for x \[2, 2\]/,
    );
    t.throws(() => fusedLayerNorm(f64([1], []), f64([1], [1]), f64([0], [1])), /must be \[0\] for x \[\]/);
  },
);

t.test('affine (x·wᵀ + b) equals matmul then add; its gradients match central differences', async (t) => {
  const arb = fc.record({
    rows: fc.integer({ min: 0, max: 5 }),
    k: fc.integer({ min: 1, max: 5 }),
    n: fc.integer({ min: 1, max: 5 }),
    seed: seedArb,
  });
  const inputsOf = (rows: number, k: number, n: number, seed: number) => [
    f64(normals(rows * k, seed, 'x'), [rows, k]),
    f64(normals(n * k, seed, 'w'), [n, k]),
    f64(normals(n, seed, 'b'), [n]),
  ];
  checkProperty(
    t,
    log_,
    'affine forward',
    arb,
    ({ rows, k, n, seed }) => {
      const [x, w, b] = inputsOf(rows, k, n, seed);
      const got = affine(x, w, b);
      if (got.shape.join() !== [rows, n].join()) return Infinity;
      return mixedError(got.data, add(matmul(x, w, { transB: true }), b).data);
    },
    1e-15,
  );
  checkProperty(
    t,
    log_,
    'affine grad',
    arb,
    ({ rows, k, n, seed }) => gradcheck(affine, inputsOf(rows, k, n, seed), seed).error,
    TOL,
  );
  t.throws(
    () => affine(f64([1, 2], [1, 2]), f64([1, 2, 3], [1, 3]), f64([0], [1])),
    /needs x \[N, in\], w \[out, in\] and b \[out\]; got x \[1, 2\], w \[1, 3\], b \[1\]/,
  );
  t.throws(() => affine(f64([1, 2], [2]), f64([1, 2], [1, 2]), f64([0], [1])), /got x \[2\]/);
});

t.test('HVPs through fusedLayerNorm and affine against finite differences of the gradient', async (t) => {
  const families: HvpFamily[] = [
    {
      name: 'fusedLayerNorm (x, gain, bias; squared and times tanh)',
      n: (tt) => 5 * (tt + 2),
      // Ramp rows keep each row's variance well above eps; gain and bias are normals.
      point: (tt, seed) => {
        const c = tt + 2;
        const p = normals(5 * c, seed, 'x');
        p.set(lnRows(3, c, seed));
        return p;
      },
      f: (tt, seed) => (theta) => {
        const c = tt + 2; // at least 3 columns, as in the gradient check above
        const x = reshape(slice(theta, [0], [3 * c]), [3, c]);
        const gain = slice(theta, [3 * c], [c]);
        const bias = slice(theta, [4 * c], [c]);
        const y = fusedLayerNorm(x, gain, bias);
        return add(readout(pow(y, 2), seed, 'y2'), readout(mul(y, tanh(x)), seed, 'yt'));
      },
    },
    {
      name: 'affine (x, w, b all from θ; tanh read-out)',
      n: (tt) => 2 * tt + 3 * tt + 3,
      f: (tt, seed) => (theta) => {
        const x = reshape(slice(theta, [0], [2 * tt]), [2, tt]);
        const w = reshape(slice(theta, [2 * tt], [3 * tt]), [3, tt]);
        const b = slice(theta, [5 * tt], [3]);
        return readout(tanh(affine(x, w, b)), seed, 'aff');
      },
    },
  ];
  checkHvpFamilies(t, log_, families);
});

t.test('summary', async (t) => {
  t.comment(log_.summary());
  t.pass('worst errors logged');
});
