import t from 'tap';
import { quadratic } from '../../src/data/synthetic.js';
import { rng } from '../../src/random/counter-rng.js';
import { symmetricEigen, tridiagonalEigen, type SymmetricEigen } from '../../src/diagnostics/index.js';

function tridiagDense(alpha: ArrayLike<number>, beta: ArrayLike<number>): Float64Array {
  const m = alpha.length;
  const a = new Float64Array(m * m);
  for (let i = 0; i < m; i++) a[i * m + i] = alpha[i];
  for (let i = 0; i + 1 < m; i++) a[i * m + i + 1] = a[(i + 1) * m + i] = beta[i];
  return a;
}

/** max ‖A v_j − λ_j v_j‖ and max |V ᵀV − I|. */
function residuals(a: Float64Array, n: number, e: SymmetricEigen): { res: number; orth: number } {
  let res = 0;
  let orth = 0;
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * e.vectors[k * n + j];
      res = Math.max(res, Math.abs(s - e.values[j] * e.vectors[i * n + j]));
    }
    for (let l = 0; l < n; l++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += e.vectors[i * n + j] * e.vectors[i * n + l];
      orth = Math.max(orth, Math.abs(s - (j === l ? 1 : 0)));
    }
  }
  return { res, orth };
}

t.test('Jacobi recovers the known spectrum of a rotated quadratic', async (t) => {
  const eig = [7, -3, 2.5, 1e-3, -0.25, 4, 4, 0.5];
  const n = eig.length;
  const q = quadratic({ eigenvalues: eig, seed: 8 });
  const e = symmetricEigen(q.A, n);
  const sorted = [...eig].sort((a, b) => a - b);
  for (let i = 0; i < n; i++)
    t.ok(Math.abs(e.values[i] - sorted[i]) < 1e-12, `${e.values[i]} vs ${sorted[i]}`);
  const { res, orth } = residuals(q.A, n, e);
  t.ok(res < 1e-12 && orth < 1e-12, `residual ${res}, orthogonality ${orth}`);
});

t.test('tridiagonal QL agrees with dense Jacobi', async (t) => {
  for (const [m, seed] of [
    [1, 1],
    [2, 2],
    [7, 3],
    [40, 4],
  ]) {
    const r = rng(seed, 'tri');
    const alpha = r.fillNormal(new Float64Array(m), 0, 3);
    const beta = r.fillNormal(new Float64Array(Math.max(0, m - 1)));
    const q = tridiagonalEigen(alpha, beta);
    const j = symmetricEigen(tridiagDense(alpha, beta), m);
    let diff = 0;
    for (let i = 0; i < m; i++) diff = Math.max(diff, Math.abs(q.values[i] - j.values[i]));
    t.ok(diff < 1e-12, `m=${m}: max eigenvalue difference ${diff}`);
    const { res, orth } = residuals(tridiagDense(alpha, beta), m, q);
    t.ok(res < 1e-12 && orth < 1e-12, `m=${m}: residual ${res}, orthogonality ${orth}`);
  }
});

t.test('tridiagonal with zero couplings (split) and repeated eigenvalues', async (t) => {
  const alpha = [2, 2, 5, -1, 2];
  const beta = [0, 1e-300, 0, 0];
  const q = tridiagonalEigen(alpha, beta);
  t.same(Array.from(q.values), [-1, 2, 2, 2, 5]);
  const alpha2 = [1, 1, 1, 1];
  const beta2 = [1, 0, 1];
  const q2 = tridiagonalEigen(alpha2, beta2);
  const want = [0, 0, 2, 2];
  for (let i = 0; i < 4; i++) t.ok(Math.abs(q2.values[i] - want[i]) < 1e-14);
  t.throws(() => tridiagonalEigen([1, 2], [1, 2]));
});
