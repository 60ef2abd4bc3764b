/**
 * SOAP's eigenbases (src/optim/eigenbasis.ts): the Householder + QL eigendecomposition against the
 * independent cyclic Jacobi solver, the Householder QR, and the power-iteration refresh tracking a
 * slowly rotating factor while staying orthonormal in float32.
 */
import t from 'tap';
import { symmetricEigen } from '../../src/diagnostics/symmetric-eigen.js';
import {
  eigenDescending,
  eigenbasisDescending,
  householderQ,
  refreshEigenbasis,
} from '../../src/optim/eigenbasis.js';
import { blockedHouseholderQ } from '../../src/optim/blocked-householder.js';

/** Deterministic uniform(−1, 1) stream (LCG) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

/** Row-major product of n×k and k×m (float64). */
function mul(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  k: number,
  m: number,
  tA = false,
): Float64Array {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (tA ? a[p * n + i] : a[i * k + p]) * b[p * m + j];
      c[i * m + j] = s;
    }
  return c;
}

/** max |QᵀQ − I|. */
function orthoError(q: ArrayLike<number>, n: number): number {
  const g = mul(q, q, n, n, n, true);
  let e = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) e = Math.max(e, Math.abs(g[i * n + j] - (i === j ? 1 : 0)));
  return e;
}

/** A random symmetric PSD n×n matrix X·Xᵀ with X n×k (rank min(n, k)). */
function gram(n: number, k: number, next: () => number): Float64Array {
  const x = Float64Array.from({ length: n * k }, next);
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += x[i * k + p] * x[j * k + p];
      g[i * n + j] = s;
    }
  return g;
}

t.test('eigenDescending matches the Jacobi solver (values descending, vectors up to sign)', async (t) => {
  for (const [n, k] of [
    [1, 1],
    [2, 3],
    [12, 20],
    [40, 40],
    [30, 5], // rank-deficient: 25 zero eigenvalues
  ]) {
    const a = gram(n, k, rng(n * 31 + k));
    const mine = eigenDescending(a, n);
    const ref = symmetricEigen(a, n); // ascending
    let valErr = 0;
    for (let j = 0; j < n; j++) valErr = Math.max(valErr, Math.abs(mine.values[j] - ref.values[n - 1 - j]));
    t.ok(valErr < 1e-9 * Math.max(1, ref.values[n - 1]), `n=${n} k=${k}: eigenvalues`, { valErr });
    t.ok(orthoError(mine.vectors, n) < 1e-12, `n=${n}: orthonormal`);
    // A·v = λ·v for every column (covers the repeated zero eigenvalues, where vectors are not unique).
    const av = mul(a, mine.vectors, n, n, n);
    let resid = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        resid = Math.max(resid, Math.abs(av[i * n + j] - mine.values[j] * mine.vectors[i * n + j]));
    t.ok(resid < 1e-9 * Math.max(1, ref.values[n - 1]), `n=${n} k=${k}: A·v = λ·v`, { resid });
    if (k >= n) {
      // Distinct eigenvalues: the same vectors as Jacobi's up to sign.
      let vecErr = 0;
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += mine.vectors[i * n + j] * ref.vectors[i * n + (n - 1 - j)];
        vecErr = Math.max(vecErr, 1 - Math.abs(dot));
      }
      t.ok(vecErr < 1e-8, `n=${n}: vectors equal Jacobi's up to sign`, { vecErr });
    }
  }
  t.throws(() => eigenDescending([1, NaN, NaN, 1], 2), /finite/);
  const zero = new Float32Array(9);
  t.ok(
    orthoError(eigenbasisDescending(new Float32Array(9), 3, zero), 3) < 1e-7,
    'zero factor: an orthonormal basis',
  );
});

t.test('householderQ: orthonormal Q with QᵀM upper triangular, also for rank-deficient M', async (t) => {
  const next = rng(7);
  for (const [n, rank] of [
    [9, 9],
    [9, 3],
    [5, 0],
  ]) {
    const m = new Float64Array(n * n);
    // M = X·Y with X n×rank: rank-deficient columns included.
    const x = Float64Array.from({ length: n * rank }, next);
    const y = Float64Array.from({ length: rank * n }, next);
    m.set(rank > 0 ? mul(x, y, n, rank, n) : m);
    const q = householderQ(Float64Array.from(m), n);
    t.ok(orthoError(q, n) < 1e-13, `n=${n} rank=${rank}: QᵀQ = I`);
    const r = mul(q, m, n, n, n, true);
    let below = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) below = Math.max(below, Math.abs(r[i * n + j]));
    t.ok(below < 1e-12, `n=${n} rank=${rank}: QᵀM is upper triangular`, { below });
  }
});

t.test('blockedHouseholderQ equals the one-reflector-at-a-time QR across panel boundaries', async (t) => {
  const next = rng(13);
  for (const [n, rank] of [
    [5, 5],
    [33, 33],
    [70, 70],
    [70, 20],
    [64, 0],
  ]) {
    const x = Float64Array.from({ length: n * rank }, next);
    const y = Float64Array.from({ length: rank * n }, next);
    const m = rank > 0 ? mul(x, y, n, rank, n) : new Float64Array(n * n);
    const ref = householderQ(Float64Array.from(m), n);
    const q = blockedHouseholderQ(Float64Array.from(m), n);
    t.ok(orthoError(q, n) < 1e-12, `n=${n} rank=${rank}: QᵀQ = I`);
    // Full-rank columns are determined (with the same signs); beyond the rank both complete the basis.
    let diff = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < rank; j++) diff = Math.max(diff, Math.abs(q[i * n + j] - ref[i * n + j]));
    t.ok(diff < 1e-9, `n=${n} rank=${rank}: the same leading columns as householderQ`, { maxDiff: diff });
    const r = mul(q, m, n, n, n, true);
    let below = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) below = Math.max(below, Math.abs(r[i * n + j]));
    t.ok(below < 1e-9 * Math.max(1, rank), `n=${n} rank=${rank}: QᵀM upper triangular`, { below });
  }
});

t.test('refreshEigenbasis: stays orthonormal in float32 and tracks a slowly rotating factor', async (t) => {
  const n = 24;
  const next = rng(3);
  // L(t) = U(t)·diag(λ)·U(t)ᵀ with well separated λ and U(t) = exp(tS) applied as small Givens steps.
  const lambda = Float64Array.from({ length: n }, (_, i) => 2 ** (-i / 2));
  const u = eigenDescending(gram(n, n, next), n).vectors; // a random orthogonal start
  const factorOf = (uu: Float64Array) => {
    const d = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) d[i * n + j] = uu[i * n + j] * lambda[j];
    const l = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < n; p++) s += d[i * n + p] * uu[j * n + p];
        l[i * n + j] = s;
      }
    return Float32Array.from(l);
  };
  let q = eigenbasisDescending(factorOf(u), n, new Float32Array(n * n));
  let worstOrtho = 0;
  let worstAlign = 1;
  for (let step = 0; step < 60; step++) {
    // Rotate U a little in a few planes.
    for (let r = 0; r < 3; r++) {
      const [a, b] = [Math.floor(((next() + 1) / 2) * n) % n, Math.floor(((next() + 1) / 2) * n) % n];
      if (a === b) continue;
      const [c, s] = [Math.cos(0.01), Math.sin(0.01)];
      for (let i = 0; i < n; i++) {
        const [x, y] = [u[i * n + a], u[i * n + b]];
        u[i * n + a] = c * x - s * y;
        u[i * n + b] = s * x + c * y;
      }
    }
    const l = factorOf(u);
    const lq = mul(l, q, n, n, n);
    const out = new Float32Array(n * n);
    refreshEigenbasis(lq, q, n, out);
    q = out;
    worstOrtho = Math.max(worstOrtho, orthoError(q, n));
    if (step >= 10) {
      // The leading 8 eigenvectors (eigenvalue gaps ≥ 1.41×) are tracked closely.
      for (let j = 0; j < 8; j++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i * n + j] * u[i * n + j];
        worstAlign = Math.min(worstAlign, Math.abs(dot));
      }
    }
  }
  t.ok(worstOrtho < 1e-5, 'QᵀQ = I to 1e-5 after 60 refreshes', { worstOrtho });
  t.ok(worstAlign > 0.99, 'the leading eigenvectors are tracked', { worstAlign });
  // The sort: a basis given in the wrong order comes back sorted by estimated eigenvalue.
  const l = factorOf(u);
  const exact = eigenDescending(l, n).vectors;
  const reversed = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) reversed[i * n + j] = exact[i * n + (n - 1 - j)];
  const order = refreshEigenbasis(mul(l, reversed, n, n, n), reversed, n, new Float32Array(n * n));
  t.same(
    Array.from(order),
    Array.from({ length: n }, (_, j) => n - 1 - j),
    'columns re-sorted descending',
  );
  t.throws(() => refreshEigenbasis([NaN, 0, 0, 1], [1, 0, 0, 1], 2, new Float32Array(4)), /non-finite/);
});
