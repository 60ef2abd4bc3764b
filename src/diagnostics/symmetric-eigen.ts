/**
 * Dense symmetric eigensolvers in float64, for Lanczos tridiagonals and small exact Hessians:
 * the implicit QL algorithm with Wilkinson-style shifts for symmetric tridiagonal matrices (EISPACK
 * tql2, as in JAMA), and the cyclic Jacobi method for full symmetric matrices (slower, very accurate;
 * the reference the tests compare against).
 *
 * Both return eigenvalues ascending and eigenvectors as the columns of a row-major n×n matrix
 * (eigenvector j is vectors[i·n + j], i = 0..n−1).
 */

export interface SymmetricEigen {
  values: Float64Array;
  vectors: Float64Array;
}

function sortAscending(d: Float64Array, v: Float64Array, n: number): SymmetricEigen {
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => d[a] - d[b]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, j) => {
    values[j] = d[src];
    for (let i = 0; i < n; i++) vectors[i * n + j] = v[i * n + src];
  });
  return { values, vectors };
}

/**
 * Eigen-decomposition of the symmetric tridiagonal matrix with diagonal `alpha` (length m) and
 * off-diagonal `beta` (length m − 1, beta[i] couples rows i and i + 1).
 */
export function tridiagonalEigen(alpha: ArrayLike<number>, beta: ArrayLike<number>): SymmetricEigen {
  const n = alpha.length;
  if (n === 0) return { values: new Float64Array(0), vectors: new Float64Array(0) };
  if (beta.length !== n - 1)
    throw new RangeError(`tridiagonalEigen: beta has length ${beta.length}, expected ${n - 1}`);
  const d = Float64Array.from(alpha);
  const e = new Float64Array(n);
  for (let i = 0; i + 1 < n; i++) e[i] = beta[i];
  for (let i = 0; i < n; i++)
    if (!Number.isFinite(d[i]) || !Number.isFinite(e[i]))
      throw new RangeError('tridiagonalEigen: entries must be finite');
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const eps = 2 ** -52;
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error('tridiagonalEigen: QL iteration did not converge');
        // Implicit shift from the leading 2×2 block.
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        // Implicit QL sweep from m − 1 down to l.
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          for (let k = 0; k < n; k++) {
            h = v[k * n + i + 1];
            v[k * n + i + 1] = s * v[k * n + i] + c * h;
            v[k * n + i] = c * v[k * n + i] - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  return sortAscending(d, v, n);
}

/** Cyclic Jacobi eigen-decomposition of a symmetric n×n row-major matrix (symmetrised as (A + Aᵀ)/2). */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): SymmetricEigen {
  if (!Number.isInteger(n) || n < 0 || matrix.length !== n * n)
    throw new RangeError(`symmetricEigen: matrix has ${matrix.length} entries, not ${n}²`);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const x = 0.5 * (matrix[i * n + j] + matrix[j * n + i]);
      if (!Number.isFinite(x)) throw new RangeError('symmetricEigen: entries must be finite');
      a[i * n + j] = x;
    }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (off <= 1e-30 * scale || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
  return sortAscending(d, v, n);
}
