/**
 * Float64 references for the Muon tests, written from muon.py's formulas with plain loops (independent of
 * src/optim/newton-schulz.ts and of the matmul kernels).
 */

/** Row-major [r, k] · [k, c]. */
export function matmul64(a: number[], b: number[], r: number, k: number, c: number): number[] {
  const out = new Array<number>(r * c).fill(0);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * c + j];
      out[i * c + j] = s;
    }
  return out;
}

export function transpose64(a: number[], r: number, c: number): number[] {
  const out = new Array<number>(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j];
  return out;
}

/** zeropower_via_newtonschulz5 in float64 (no scale). */
export function newtonSchulz64(g: ArrayLike<number>, rows: number, cols: number, steps = 5): number[] {
  const [a, b, c] = [3.4445, -4.775, 2.0315];
  const tall = rows > cols;
  let x = tall ? transpose64(Array.from(g), rows, cols) : Array.from(g);
  const [m, n] = tall ? [cols, rows] : [rows, cols];
  const norm = Math.sqrt(x.reduce((s, v) => s + v * v, 0));
  x = x.map((v) => v / (norm + 1e-7));
  for (let it = 0; it < steps; it++) {
    const gram = matmul64(x, transpose64(x, m, n), m, n, m);
    const gram2 = matmul64(gram, gram, m, m, m);
    const bm = gram.map((v, i) => b * v + c * gram2[i]);
    const bx = matmul64(bm, x, m, m, n);
    x = x.map((v, i) => a * v + bx[i]);
  }
  return tall ? transpose64(x, m, n) : x;
}

/** A deterministic pseudo-random vector in [−1, 1). */
export function seeded(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}
