/**
 * Hessian-vector products (exact, by double backward) checked three ways, all in float64:
 *  - against fourth-order central differences of the gradient, Hv ≈ [∇f(x + hv) − ∇f(x − hv)]/2h,
 *    through every op family (≤ 1e-5 mixed relative error);
 *  - against closed forms computed independently with plain loops: a quadratic ½xᵀAx, logistic
 *    regression and softmax cross-entropy of a linear model;
 *  - structurally: vᵀ(Hw) = wᵀ(Hv) on a 2-layer tanh MLP, and Hv = 0 (exactly) for linear functions.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  type Tensor,
  abs,
  add,
  broadcastTo,
  concat,
  crossEntropy,
  div,
  exp,
  gather,
  gelu,
  grad,
  hvp,
  layerNorm,
  log,
  logSoftmax,
  logsumexp,
  matmul,
  max,
  maximum,
  mean,
  mse,
  mul,
  neg,
  pad,
  permute,
  pow,
  relu,
  reshape,
  scatterAdd,
  sigmoid,
  slice,
  softmax,
  sqrt,
  sub,
  sum,
  tanh,
  transpose,
  valueAndGrad,
  valueGradHvp,
  where,
} from '../../src/tensor/index.js';
import { distinct, ints, normals, uniforms } from '../helpers/random.js';
import { WorstErrors, checkProperty, f64, mixedError, stencilVec } from '../helpers/finite-diff.js';
import { type MlpSizes, mlpLoss, mlpParamCount } from '../helpers/mlp.js';

const FD_TOL = 1e-5;
/** Closed forms differ from the HVP only by rounding. */
const EXACT_TOL = 1e-10;
const log_ = new WorstErrors();
const seedArb = fc.integer({ min: 0, max: 0x7fffffff });

type Fn = (x: Tensor) => Tensor;

/**
 * The difference step for gradients: truncation error ∝ h⁴ dominates at 1e-3 on the matmul family
 * (≈2e-7 worst over 300 seeds), rounding (≈ u·|∇f|/h ≈ 1e-10) is still far below it at 2.5e-4.
 */
const HVP_STEP = 2.5e-4;

/** Fourth-order central difference of the gradient along v. */
function fdHvp(f: Fn, x: Float64Array, v: Float64Array): Float64Array {
  const g = grad(f);
  const at = (delta: number) =>
    g(
      f64(
        x.map((xi, i) => xi + delta * v[i]),
        [x.length],
      ),
    ).data;
  return stencilVec(at, HVP_STEP);
}

function hvpError(f: Fn, x: Float64Array, v: Float64Array): number {
  const hv = hvp(f, f64(x, [x.length]), f64(v, [v.length]));
  if (hv.dtype !== 'float64' || hv.size !== x.length) return Infinity;
  return mixedError(hv.data, fdHvp(f, x, v));
}

/** Views of a flat parameter vector: consecutive slices reshaped to `shapes`. */
function views(theta: Tensor, shapes: readonly number[][]): Tensor[] {
  let at = 0;
  return shapes.map((s) => {
    const n = s.reduce((a, b) => a * b, 1);
    const view = reshape(slice(theta, [at], [n]), s);
    at += n;
    return view;
  });
}

const sizeOfShapes = (shapes: readonly number[][]) =>
  shapes.reduce((acc, s) => acc + s.reduce((a, b) => a * b, 1), 0);

/** A weighted scalar read-out, sum(y · w), with fixed weights so every output element matters. */
function readout(y: Tensor, seed: number, tag: string): Tensor {
  return sum(mul(y, f64(normals(y.size, seed, 'readout', tag), y.shape)));
}

interface Family {
  name: string;
  shapes: number[][];
  /** Point at which to evaluate (defaults to standard normals). */
  point?: (seed: number) => Float64Array;
  f: (seed: number) => Fn;
}

/** Lattice values 0.1·k + off + [0, 0.02): two lattices with off 0 and 0.05 never come within 0.03. */
function lattice(n: number, off: number, seed: number, tag: string): Float64Array {
  const k = ints(n, 41, seed, tag, 'k');
  const j = uniforms(n, 0, 0.02, seed, tag, 'j');
  return Float64Array.from(k, (v, i) => 0.1 * (v - 20) + off + j[i]);
}

const families: Family[] = [
  {
    name: 'unary elementwise (exp, log, sqrt, pow, tanh, sigmoid, neg, abs, relu)',
    shapes: [[3, 4]],
    // |x| ≥ 0.05 keeps abs and relu away from their kinks within the difference stencil.
    point: (seed) => normals(12, seed, 'x').map((v) => Math.sign(v || 1) * (0.05 + Math.abs(v))),
    f: (seed) => (theta) => {
      const [x] = views(theta, [[3, 4]]);
      const sq1 = add(mul(x, x), 1);
      const terms = [
        mul(exp(mul(x, 0.5)), tanh(x)),
        mul(sigmoid(x), x),
        log(sq1),
        sqrt(sq1),
        pow(add(mul(x, x), 0.5), -1.5),
        mul(neg(x), pow(x, 3)),
        mul(abs(x), x),
        mul(relu(x), mul(x, x)),
      ];
      return terms.reduce((acc, y, i) => add(acc, readout(y, seed, `u${i}`)), f64([0], []));
    },
  },
  {
    name: 'binary with broadcasting (add, sub, mul, div, maximum, where)',
    shapes: [
      [3, 1, 4],
      [2, 4],
    ],
    point: (seed) => Float64Array.from([...lattice(12, 0, seed, 'a'), ...lattice(8, 0.05, seed, 'b')]),
    f: (seed) => (theta) => {
      const [a, b] = views(theta, [
        [3, 1, 4],
        [2, 4],
      ]);
      const cond = f64(ints(24, 2, seed, 'cond'), [3, 2, 4]);
      const terms = [
        mul(add(a, b), sub(a, b)),
        div(mul(a, b), add(mul(b, b), 1)),
        mul(maximum(a, b), maximum(b, mul(a, 1))),
        where(cond, mul(a, a), mul(mul(b, b), b)),
        div(1, add(mul(a, a), 2)),
      ];
      return terms.reduce((acc, y, i) => add(acc, readout(y, seed, `b${i}`)), f64([0], []));
    },
  },
  ...[false, true].flatMap((transA) =>
    [false, true].map((transB) => ({
      name: `batched matmul with broadcast batch, transA=${transA} transB=${transB}`,
      shapes: [
        [2, 1, ...(transA ? [4, 3] : [3, 4])],
        [3, ...(transB ? [5, 4] : [4, 5])],
      ],
      f: (seed: number) => (theta: Tensor) => {
        const [a, b] = views(theta, [
          [2, 1, ...(transA ? [4, 3] : [3, 4])],
          [3, ...(transB ? [5, 4] : [4, 5])],
        ]);
        const c = matmul(a, b, { transA, transB });
        return add(readout(tanh(c), seed, 'tanh'), readout(mul(c, c), seed, 'sq'));
      },
    })),
  ),
  {
    name: 'layout (permute, transpose, reshape, slice, pad, concat, broadcastTo)',
    shapes: [[2, 3, 4]],
    f: (seed) => (theta) => {
      const [x] = views(theta, [[2, 3, 4]]);
      const p = permute(x, [2, 0, 1]); // [4, 2, 3]
      const s = slice(x, [0, 1, 1], [2, 2, 2]); // non-contiguous
      const padded = pad(tanh(s), [3, 3, 4], [1, 0, 1]);
      const joined = concat([reshape(p, [4, 6]), reshape(transpose(padded, 0, 2), [-1, 6])], 0); // [10, 6]
      const b = broadcastTo(reshape(slice(x, [1, 0, 0], [1, 1, 4]), [4, 1]), [4, 3]);
      return add(readout(mul(joined, tanh(joined)), seed, 'j'), readout(mul(b, b), seed, 'b'));
    },
  },
  {
    name: 'reductions (sum, mean, max over axes, keepdims)',
    shapes: [[2, 3, 4]],
    // Distinct values 0.1 apart: max's arg-max is fixed within the stencil.
    point: (seed) => distinct(24, 0.1, seed, 'x'),
    f: (seed) => (theta) => {
      const [x] = views(theta, [[2, 3, 4]]);
      const terms = [
        mul(exp(mean(x, [0, 2], true)), x),
        pow(max(x, 1), 2),
        mul(max(x, [0, -1], true), sum(x, -1, true)),
        pow(tanh(sum(x, [1, 2])), 2),
        mul(mean(x), sum(mul(x, x))),
      ];
      return terms.reduce((acc, y, i) => add(acc, readout(y, seed, `r${i}`)), f64([0], []));
    },
  },
  {
    name: 'gather and scatterAdd (repeated indices)',
    shapes: [
      [4, 3],
      [5, 3],
    ],
    f: (seed) => (theta) => {
      const [table, src] = views(theta, [
        [4, 3],
        [5, 3],
      ]);
      const idx = Int32Array.from([0, 2, 2, 3, 0]);
      const g = gather(table, idx, [5]);
      const s = scatterAdd(src, idx, 4);
      return add(readout(mul(tanh(g), src), seed, 'g'), readout(pow(s, 3), seed, 's'));
    },
  },
  {
    name: 'softmax, logSoftmax, logsumexp',
    shapes: [[3, 5]],
    f: (seed) => (theta) => {
      const [x] = views(theta, [[3, 5]]);
      return add(
        add(readout(softmax(x, 0), seed, 's'), readout(logSoftmax(x, -1), seed, 'l')),
        readout(pow(logsumexp(x, 1), 2), seed, 'e'),
      );
    },
  },
  {
    name: 'gelu and layerNorm (x, gain, bias)',
    shapes: [[3, 4], [4], [4]],
    point: (seed) => {
      const x = new Float64Array(20);
      for (let r = 0; r < 3; r++) {
        const ramp = distinct(4, 0.8, seed, 'row', r);
        for (let j = 0; j < 4; j++) x[r * 4 + j] = ramp[j];
      }
      x.set(normals(8, seed, 'gb'), 12);
      return x;
    },
    f: (seed) => (theta) => {
      const [x, gain, bias] = views(theta, [[3, 4], [4], [4]]);
      return add(readout(gelu(layerNorm(x, gain, bias)), seed, 'ln'), readout(gelu(x), seed, 'g'));
    },
  },
  {
    name: 'crossEntropy and mse',
    shapes: [[2, 3, 4], [6]],
    f: (seed) => (theta) => {
      const [z, p] = views(theta, [[2, 3, 4], [6]]);
      const targets = ints(6, 4, seed, 'targets');
      const goal = f64(normals(6, seed, 'goal'), [2, 3]);
      return add(crossEntropy(z, targets), mul(mse(mul(tanh(p), 2), goal), 0.5));
    },
  },
];

t.test('HVP against finite differences of the gradient, through every op family', async (t) => {
  for (const fam of families) {
    const n = sizeOfShapes(fam.shapes);
    checkProperty(
      t,
      log_,
      fam.name,
      seedArb,
      (seed) => {
        const x = fam.point ? fam.point(seed) : normals(n, seed, 'x');
        if (x.length !== n) throw new Error(`${fam.name}: point has ${x.length} values, needs ${n}`);
        return hvpError(fam.f(seed), x, normals(n, seed, 'v'));
      },
      FD_TOL,
      6,
    );
  }
});

// ---------------------------------------------------------------- closed forms

t.test('quadratic ½xᵀAx: Hv = Av, ∇ = Ax', async (t) => {
  const arb = fc.record({ n: fc.integer({ min: 1, max: 9 }), seed: seedArb });
  checkProperty(
    t,
    log_,
    'quadratic',
    arb,
    ({ n, seed }) => {
      const m = normals(n * n, seed, 'M');
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) a[i * n + j] = (m[i * n + j] + m[j * n + i]) / 2;
      const A = f64(a, [n, n]);
      const f: Fn = (x) => mul(sum(mul(x, reshape(matmul(A, reshape(x, [n, 1])), [n]))), 0.5);
      const x = normals(n, seed, 'x');
      const v = normals(n, seed, 'v');
      const [, g, hv] = valueGradHvp(f, f64(x, [n]), f64(v, [n]));
      const av = new Float64Array(n);
      const ax = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          av[i] += a[i * n + j] * v[j];
          ax[i] += a[i * n + j] * x[j];
        }
      }
      return Math.max(mixedError(hv.data, av), mixedError(g.data, ax));
    },
    EXACT_TOL,
  );
});

t.test('logistic regression: H = Xᵀ diag(p(1 − p)) X / n', async (t) => {
  const arb = fc.record({
    n: fc.integer({ min: 1, max: 12 }),
    d: fc.integer({ min: 1, max: 6 }),
    seed: seedArb,
  });
  checkProperty(
    t,
    log_,
    'logistic regression',
    arb,
    ({ n, d, seed }) => {
      const xs = normals(n * d, seed, 'X');
      const ys = Float64Array.from(ints(n, 2, seed, 'y'));
      const X = f64(xs, [n, d]);
      const Y = f64(ys, [n]);
      const f: Fn = (w) => {
        const p = sigmoid(reshape(matmul(X, reshape(w, [d, 1])), [n]));
        return neg(mean(add(mul(Y, log(p)), mul(sub(1, Y), log(sub(1, p))))));
      };
      const w = normals(d, seed, 'w').map((v) => 0.5 * v);
      const v = normals(d, seed, 'v');
      // Closed form with plain loops.
      const h = new Float64Array(d * d);
      const gradRef = new Float64Array(d);
      for (let i = 0; i < n; i++) {
        let z = 0;
        for (let j = 0; j < d; j++) z += xs[i * d + j] * w[j];
        const p = 1 / (1 + Math.exp(-z));
        for (let j = 0; j < d; j++) {
          gradRef[j] += ((p - ys[i]) * xs[i * d + j]) / n;
          for (let k = 0; k < d; k++) h[j * d + k] += (p * (1 - p) * xs[i * d + j] * xs[i * d + k]) / n;
        }
      }
      const hvRef = new Float64Array(d);
      for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) hvRef[j] += h[j * d + k] * v[k];
      const [, g, hv] = valueGradHvp(f, f64(w, [d]), f64(v, [d]));
      return Math.max(mixedError(hv.data, hvRef), mixedError(g.data, gradRef));
    },
    EXACT_TOL,
  );
});

t.test('softmax cross-entropy of a linear model: H = (1/n) Σᵢ (diag(pᵢ) − pᵢpᵢᵀ) ⊗ xᵢxᵢᵀ', async (t) => {
  const arb = fc.record({
    n: fc.integer({ min: 1, max: 8 }),
    d: fc.integer({ min: 1, max: 5 }),
    c: fc.integer({ min: 2, max: 5 }),
    seed: seedArb,
  });
  checkProperty(
    t,
    log_,
    'softmax cross-entropy (linear)',
    arb,
    ({ n, d, c, seed }) => {
      const xs = normals(n * d, seed, 'X');
      const targets = ints(n, c, seed, 'y');
      const X = f64(xs, [n, d]);
      // W is [c, d], row-major in θ: parameter (k, j) sits at k·d + j.
      const f: Fn = (theta) => crossEntropy(matmul(X, reshape(theta, [c, d]), { transB: true }), targets);
      const w = normals(c * d, seed, 'W');
      const v = normals(c * d, seed, 'v');
      const size = c * d;
      const H = new Float64Array(size * size);
      const gradRef = new Float64Array(size);
      for (let i = 0; i < n; i++) {
        const z = new Float64Array(c);
        for (let k = 0; k < c; k++) for (let j = 0; j < d; j++) z[k] += w[k * d + j] * xs[i * d + j];
        let zmax = -Infinity;
        for (const zk of z) zmax = Math.max(zmax, zk);
        let total = 0;
        for (const zk of z) total += Math.exp(zk - zmax);
        const p = z.map((zk) => Math.exp(zk - zmax) / total);
        for (let k = 0; k < c; k++) {
          for (let j = 0; j < d; j++)
            gradRef[k * d + j] += ((p[k] - (k === targets[i] ? 1 : 0)) * xs[i * d + j]) / n;
          for (let l = 0; l < c; l++) {
            const s = (k === l ? p[k] : 0) - p[k] * p[l];
            for (let j = 0; j < d; j++) {
              for (let jj = 0; jj < d; jj++)
                H[(k * d + j) * size + l * d + jj] += (s * xs[i * d + j] * xs[i * d + jj]) / n;
            }
          }
        }
      }
      const hvRef = new Float64Array(size);
      for (let r = 0; r < size; r++) for (let q = 0; q < size; q++) hvRef[r] += H[r * size + q] * v[q];
      const [, g, hv] = valueGradHvp(f, f64(w, [size]), f64(v, [size]));
      return Math.max(mixedError(hv.data, hvRef), mixedError(g.data, gradRef));
    },
    EXACT_TOL,
  );
});

// ---------------------------------------------------------------- structure

const MLP: MlpSizes = { inputs: 4, hidden: 5, classes: 3 };

function mlpProblem(seed: number, batch = 6) {
  const x = f64(normals(batch * MLP.inputs, seed, 'X'), [batch, MLP.inputs]);
  const targets = ints(batch, MLP.classes, seed, 'y');
  const p = mlpParamCount(MLP);
  return { f: mlpLoss(MLP, x, targets), theta: normals(p, seed, 'theta').map((v) => 0.7 * v), p };
}

t.test('symmetry vᵀ(Hw) = wᵀ(Hv) on a 2-layer tanh MLP, and Hv against finite differences', async (t) => {
  checkProperty(
    t,
    log_,
    'MLP symmetry',
    seedArb,
    (seed) => {
      const { f, theta, p } = mlpProblem(seed);
      const v = normals(p, seed, 'v');
      const w = normals(p, seed, 'w');
      const th = f64(theta, [p]);
      const hv = hvp(f, th, f64(v, [p])).data;
      const hw = hvp(f, th, f64(w, [p])).data;
      let vHw = 0;
      let wHv = 0;
      for (let i = 0; i < p; i++) {
        vHw += v[i] * hw[i];
        wHv += w[i] * hv[i];
      }
      return Math.abs(vHw - wHv) / Math.max(1, Math.abs(vHw), Math.abs(wHv));
    },
    EXACT_TOL,
    15,
  );
  checkProperty(
    t,
    log_,
    'MLP Hv vs finite differences',
    seedArb,
    (seed) => {
      const { f, theta, p } = mlpProblem(seed);
      return hvpError(f, theta, normals(p, seed, 'v'));
    },
    FD_TOL,
    8,
  );
});

t.test('the HVP of a linear function is exactly zero', async (t) => {
  const n = 12;
  const c = f64(normals(n, 1, 'c'), [n]);
  const A = f64(normals(3 * 4, 1, 'A'), [3, 4]);
  const c17 = f64(normals(17, 1, 'c17'), [17]);
  const linear: [string, Fn][] = [
    ['sum(c · x)', (x) => sum(mul(c, x))],
    [
      'mean(A · X) + sum(x) − 2·x₀',
      (x) => add(mean(matmul(A, reshape(x, [4, 3]))), sub(sum(x), mul(slice(x, [0], [1]), 2))),
    ],
    [
      'layout ops only (permute, reshape, slice, concat, neg)',
      (x) =>
        sum(
          mul(concat([reshape(permute(reshape(x, [3, 4]), [1, 0]), [12]), neg(slice(x, [2], [5]))], 0), c17),
        ),
    ],
    ['relu (piecewise linear)', (x) => sum(mul(relu(x), c))],
  ];
  const x = f64(normals(n, 2, 'x'), [n]);
  const v = f64(normals(n, 2, 'v'), [n]);
  for (const [name, f] of linear) {
    const [value, g, hv] = valueGradHvp(f, x, v);
    const [value2, g2] = valueAndGrad(f)(x);
    t.equal(hv.dtype, 'float64', `${name}: float64 HVP`);
    t.strictSame(Array.from(hv.data), new Array<number>(n).fill(0), `${name}: Hv = 0 exactly`);
    t.equal(value.item(), value2.item(), `${name}: valueGradHvp's value equals valueAndGrad's`);
    t.strictSame(
      Array.from(g.data),
      Array.from(g2.data),
      `${name}: valueGradHvp's gradient equals valueAndGrad's`,
    );
  }
});

t.test('v of another shape with the same size is read in x’s layout, never broadcast', async (t) => {
  // f = Σ x³: H = diag(6x). With x [1, 3] and v [3, 1], broadcasting v against the gradient would
  // give (Σ_j ∂f/∂x_j)(Σ v) instead of Hv.
  const f: Fn = (x) => sum(mul(mul(x, x), x));
  const x = f64([1, 2, 3], [1, 3]);
  const hvRow = hvp(f, x, f64([1, 0, 0], [1, 3]));
  const hvCol = hvp(f, x, f64([1, 0, 0], [3, 1]));
  const hvFlat = hvp(f, x, f64([0, 1, -1], [3]));
  t.strictSame(Array.from(hvRow.data), [6, 0, 0], 'same shape');
  t.strictSame(Array.from(hvCol.data), [6, 0, 0], 'v [3, 1] against x [1, 3]');
  t.strictSame(Array.from(hvFlat.data), [0, 12, -18], 'flat v against x [1, 3]');
  t.strictSame(hvCol.shape, [1, 3], 'Hv has x’s shape');
});

t.test('a check that can fail: a perturbed Hessian is rejected', async (t) => {
  const { f, theta, p } = mlpProblem(3);
  const v = normals(p, 3, 'v');
  const good = hvpError(f, theta, v);
  const hv = hvp(f, f64(theta, [p]), f64(v, [p])).data;
  const fd = fdHvp(f, theta, v);
  const wrong = Float64Array.from(hv, (h, i) => (i === 0 ? h * 1.001 + 1e-3 : h));
  t.ok(good <= FD_TOL, `exact HVP passes (${good.toExponential(2)})`);
  t.ok(mixedError(wrong, fd) > FD_TOL, 'an HVP wrong by 1e-3 in one entry fails');
});

t.test('report', async (t) => {
  t.comment(`worst errors (finite differences ≤ ${FD_TOL}, closed forms ≤ ${EXACT_TOL}):\n${log_.summary()}`);
  t.ok(log_.overall() <= FD_TOL, `overall worst ${log_.overall().toExponential(2)}`);
});
