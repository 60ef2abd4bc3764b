/**
 * Forward values against plain-loop references in float64. Gradient checks only prove a gradient is
 * consistent with its forward pass; these prove the forward pass itself: composites (softmax,
 * logSoftmax, logsumexp, gelu, layerNorm, crossEntropy, mse), batched matmul with broadcast batch
 * dims, broadcasting, and reductions over axis subsets.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  add,
  crossEntropy,
  gelu,
  layerNorm,
  logSoftmax,
  logsumexp,
  matmul,
  max,
  mean,
  mse,
  softmax,
  sum,
} from '../../src/tensor/index.js';
import { WorstErrors, checkProperty, f64, mixedError } from '../helpers/finite-diff.js';
import { count, ints, normals } from '../helpers/random.js';

const TOL = 1e-12;
const log_ = new WorstErrors();
const seedArb = fc.integer({ min: 0, max: 0x7fffffff });
const shapeArb = (minRank: number, maxRank: number, maxDim = 4) =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/** Rows of the last axis: calls fn(rowValues) → row output for each. */
function byRows(data: ArrayLike<number>, c: number, fn: (row: number[]) => number[]): Float64Array {
  const out = new Float64Array(data.length);
  for (let r = 0; r < data.length / c; r++)
    out.set(fn(Array.from({ length: c }, (_, j) => data[r * c + j])), r * c);
  return out;
}

const lse = (row: number[]) => {
  const m = Math.max(...row);
  return m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
};

t.test('composites against plain loops (last axis)', async (t) => {
  const arb = fc.record({ lead: shapeArb(0, 2), c: fc.integer({ min: 1, max: 6 }), seed: seedArb });
  const values = (n: number, seed: number) => normals(n, seed).map((v) => 3 * v);
  checkProperty(
    t,
    log_,
    'softmax',
    arb,
    ({ lead, c, seed }) => {
      const x = values(count(lead) * c, seed);
      const want = byRows(x, c, (row) => row.map((v) => Math.exp(v - lse(row))));
      return mixedError(softmax(f64(x, [...lead, c])).data, want);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'logSoftmax',
    arb,
    ({ lead, c, seed }) => {
      const x = values(count(lead) * c, seed);
      const want = byRows(x, c, (row) => row.map((v) => v - lse(row)));
      return mixedError(logSoftmax(f64(x, [...lead, c])).data, want);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'logsumexp',
    arb,
    ({ lead, c, seed }) => {
      const x = values(count(lead) * c, seed);
      const want = Float64Array.from({ length: count(lead) }, (_, r) =>
        lse(Array.from(x.subarray(r * c, (r + 1) * c))),
      );
      const y = logsumexp(f64(x, [...lead, c]));
      const kept = logsumexp(f64(x, [...lead, c]), -1, true);
      if (y.shape.join() !== lead.join() || kept.shape.join() !== [...lead, 1].join()) return Infinity;
      return mixedError(y.data, want);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'gelu (tanh form)',
    arb,
    ({ lead, c, seed }) => {
      const x = values(count(lead) * c, seed);
      const k = Math.sqrt(2 / Math.PI);
      const want = x.map((v) => 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v ** 3))));
      return mixedError(gelu(f64(x, [...lead, c])).data, want);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'layerNorm',
    arb,
    ({ lead, c, seed }) => {
      const x = values(count(lead) * c, seed);
      const gain = normals(c, seed, 'g');
      const bias = normals(c, seed, 'b');
      const eps = 1e-5;
      const want = byRows(x, c, (row) => {
        const mu = row.reduce((a, v) => a + v, 0) / c;
        const variance = row.reduce((a, v) => a + (v - mu) ** 2, 0) / c;
        return row.map((v, j) => ((v - mu) / Math.sqrt(variance + eps)) * gain[j] + bias[j]);
      });
      return mixedError(layerNorm(f64(x, [...lead, c]), f64(gain, [c]), f64(bias, [c]), eps).data, want);
    },
    1e-10,
  );
  checkProperty(
    t,
    log_,
    'crossEntropy (mean over predictions)',
    arb,
    ({ lead, c, seed }) => {
      const rows = count(lead);
      const x = values(rows * c, seed);
      const targets = ints(rows, c, seed, 'y');
      let want = 0;
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * c, (r + 1) * c));
        want += (lse(row) - row[targets[r]]) / rows;
      }
      const y = crossEntropy(f64(x, [...lead, c]), targets);
      return y.shape.length === 0 ? mixedError([y.item()], [want]) : Infinity;
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'mse',
    arb,
    ({ lead, c, seed }) => {
      const n = count(lead) * c;
      const p = normals(n, seed, 'p');
      const q = normals(n, seed, 'q');
      const want = p.reduce((a, v, i) => a + (v - q[i]) ** 2, 0) / n;
      return mixedError([mse(f64(p, [...lead, c]), f64(q, [n])).item()], [want]);
    },
    TOL,
  );
  // Stability: huge logits neither overflow nor lose the answer.
  const big = f64([1000, 1001, 999, -1000, -1001, -999], [2, 3]);
  const lseBig = logsumexp(big).data;
  t.ok(
    mixedError(lseBig, [lse([1000, 1001, 999]), lse([-1000, -1001, -999])]) <= TOL,
    `logsumexp of ±1000: ${Array.from(lseBig)}`,
  );
  t.ok(
    mixedError(crossEntropy(big, Int32Array.from([0, 2])).data, [
      (lse([1000, 1001, 999]) - 1000 + lse([-1000, -1001, -999]) + 999) / 2,
    ]) <= TOL,
    'crossEntropy of ±1000',
  );
});

t.test('softmax over a middle axis', async (t) => {
  const x = normals(24, 4);
  const y = softmax(f64(x, [2, 3, 4]), 1).data;
  let worst = 0;
  for (let a = 0; a < 2; a++) {
    for (let c = 0; c < 4; c++) {
      const col = [0, 1, 2].map((b) => x[a * 12 + b * 4 + c]);
      const l = lse(col);
      for (let b = 0; b < 3; b++)
        worst = Math.max(worst, Math.abs(y[a * 12 + b * 4 + c] - Math.exp(col[b] - l)));
    }
  }
  t.ok(worst <= TOL, `softmax axis 1: ${worst.toExponential(2)}`);
});

t.test('batched matmul with broadcast batch dims, every transpose flag', async (t) => {
  const arb = fc.record({
    aBatch: fc.constantFrom([] as number[], [3], [2, 1], [1, 3], [2, 3]),
    bBatch: fc.constantFrom([] as number[], [3], [2, 1], [1, 3], [1]),
    m: fc.integer({ min: 1, max: 6 }),
    n: fc.integer({ min: 1, max: 6 }),
    k: fc.integer({ min: 1, max: 6 }),
    transA: fc.boolean(),
    transB: fc.boolean(),
    seed: seedArb,
  });
  checkProperty(
    t,
    log_,
    'matmul',
    arb,
    ({ aBatch, bBatch, m, n, k, transA, transB, seed }) => {
      const sa = [...aBatch, ...(transA ? [k, m] : [m, k])];
      const sb = [...bBatch, ...(transB ? [n, k] : [k, n])];
      const a = normals(count(sa), seed, 'a');
      const b = normals(count(sb), seed, 'b');
      const y = matmul(f64(a, sa), f64(b, sb), { transA, transB });
      // Broadcast the batch shapes by hand.
      const rank = Math.max(aBatch.length, bBatch.length);
      const pa = [...new Array<number>(rank - aBatch.length).fill(1), ...aBatch];
      const pb = [...new Array<number>(rank - bBatch.length).fill(1), ...bBatch];
      const batch = pa.map((d, i) => Math.max(d, pb[i]));
      if (y.shape.join() !== [...batch, m, n].join()) return Infinity;
      const want = new Float64Array(count(batch) * m * n);
      for (let tIdx = 0; tIdx < count(batch); tIdx++) {
        // Decompose the batch index and map it into each operand (size-1 dims repeat).
        let rest = tIdx;
        const idx = batch.map(() => 0);
        for (let d = rank - 1; d >= 0; d--) {
          idx[d] = rest % batch[d];
          rest = Math.floor(rest / batch[d]);
        }
        const flat = (own: number[]) => own.reduce((acc, d, i) => acc * d + (d === 1 ? 0 : idx[i]), 0);
        const ao = flat(pa) * m * k;
        const bo = flat(pb) * k * n;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let p = 0; p < k; p++)
              s += a[ao + (transA ? p * m + i : i * k + p)] * b[bo + (transB ? j * k + p : p * n + j)];
            want[tIdx * m * n + i * n + j] = s;
          }
        }
      }
      return mixedError(y.data, want);
    },
    TOL,
    40,
  );
});

t.test('broadcast add and reductions over axis subsets', async (t) => {
  const x = normals(24, 9);
  const X = f64(x, [2, 3, 4]);
  const at = (i: number, j: number, k: number) => x[i * 12 + j * 4 + k];
  const row = normals(4, 9, 'row');
  const y = add(X, f64(row, [4])).data;
  let worst = 0;
  for (let i = 0; i < 2; i++)
    for (let j = 0; j < 3; j++)
      for (let k = 0; k < 4; k++)
        worst = Math.max(worst, Math.abs(y[i * 12 + j * 4 + k] - (at(i, j, k) + row[k])));
  t.ok(worst <= TOL, 'x [2,3,4] + row [4]');
  const s02 = sum(X, [0, 2], true);
  t.strictSame(s02.shape, [1, 3, 1], 'sum over [0, 2] with keepdims keeps [1, 3, 1]');
  const want02 = [0, 1, 2].map((j) =>
    [0, 1].reduce((a, i) => a + [0, 1, 2, 3].reduce((b, k) => b + at(i, j, k), 0), 0),
  );
  t.ok(mixedError(s02.data, want02) <= TOL, 'sum over [0, 2] values');
  const m1 = max(X, -2);
  t.strictSame(m1.shape, [2, 4], 'max over axis -2 drops it');
  const wantMax = [0, 1].flatMap((i) =>
    [0, 1, 2, 3].map((k) => Math.max(at(i, 0, k), at(i, 1, k), at(i, 2, k))),
  );
  t.strictSame(Array.from(m1.data), wantMax, 'max over axis -2 values');
  const mAll = mean(X);
  t.strictSame(mAll.shape, [], 'mean over everything is rank 0');
  t.ok(Math.abs(mAll.item() - x.reduce((a, v) => a + v, 0) / 24) <= TOL, 'mean value');
});

t.test('report', async (t) => {
  t.comment(`worst forward errors against plain loops:\n${log_.summary()}`);
  t.ok(log_.overall() <= 1e-10, `overall worst ${log_.overall().toExponential(2)}`);
});
