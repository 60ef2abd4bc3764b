/**
 * M-FAC's Woodbury/Cholesky product against a dense reference: F = damp·I + (1/m)·Σ gᵢgᵢᵀ over the last m
 * gradients, solved by Gaussian elimination here — an independent route to the same operator.
 */
import t from 'tap';
import { mfacInverseFisherProduct, scaleByMfac, type MfacState } from '../../src/optim/index.js';
import { assertClose } from './helpers.js';

/** Solves A x = b (n×n, row-major) by Gaussian elimination with partial pivoting, in float64. */
function denseSolve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r][c]) > Math.abs(m[p][c])) p = r;
    [m[c], m[p]] = [m[p], m[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r][c] / m[c][c];
      for (let k = c; k <= n; k++) m[r][k] -= f * m[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r][n];
    for (let k = r + 1; k < n; k++) s -= m[r][k] * x[k];
    x[r] = s / m[r][r];
  }
  return x;
}

function fisher(window: Float32Array[], m: number, damp: number, d: number): number[][] {
  const f = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? damp : 0)));
  for (const g of window)
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) f[i][j] += (g[i] * g[j]) / m;
  return f;
}

/** Deterministic pseudo-random gradients (an LCG; any fixed numbers would do). */
function gradients(count: number, d: number): Float32Array[] {
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  return Array.from({ length: count }, () => Float32Array.from({ length: d }, next));
}

for (const [d, m, damp] of [
  [5, 3, 0.01],
  [3, 5, 0.1],
  [4, 4, 1e-5],
] as const) {
  t.test(`direction equals dense F⁻¹g (d ${d}, window ${m}, damp ${damp})`, async (t) => {
    const opt = scaleByMfac({ m, damp });
    const grads = gradients(9, d);
    let state = opt.init(new Float32Array(d));
    grads.forEach((g, step) => {
      const [dir, next] = opt.update(g, state);
      state = next;
      const window = grads.slice(Math.max(0, step + 1 - m), step + 1);
      const ref = denseSolve(fisher(window, m, damp, d), Array.from(g));
      // With damp 1e-5, λ = 1e5 and the Woodbury terms cancel by ~10 digits; float64 keeps 1e-5 relative.
      const scale = Math.max(...ref.map(Math.abs));
      assertClose(
        t,
        Array.from(dir, (v) => v / scale),
        ref.map((v) => v / scale),
        `step ${step + 1}`,
        1e-5,
      );
      t.equal(state.rows.length, Math.min(step + 1, m), 'window holds min(steps, m) gradients');
    });
    // Ring buffer: the newest gradient replaced the oldest slot.
    t.same(
      Array.from(state.rows[(grads.length - 1) % m]),
      Array.from(grads[grads.length - 1]),
      'newest in its slot',
    );
    // The stored factorisation gives F⁻¹x for any x without refactoring.
    const x = Float32Array.from({ length: d }, (_, i) => i - 1);
    const window = grads.slice(grads.length - m);
    const ref = denseSolve(fisher(window, m, damp, d), Array.from(x));
    const scale = Math.max(...ref.map(Math.abs));
    assertClose(
      t,
      Array.from(mfacInverseFisherProduct(state as MfacState, x), (v) => v / scale),
      ref.map((v) => v / scale),
      'mfacInverseFisherProduct',
      1e-5,
    );
  });
}

t.test('first step is m·g/(m·damp + |g|²) (empty slots contribute nothing, the 1/m stays)', async (t) => {
  const g = Float32Array.from([3, 4]);
  const [dir] = scaleByMfac({ m: 8, damp: 1e-5 }).update(g, scaleByMfac({ m: 8 }).init(new Float32Array(2)));
  const k = 8 / (8e-5 + 25);
  assertClose(t, dir, [3 * k, 4 * k], 'closed form', 1e-6);
});
