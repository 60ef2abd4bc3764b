/**
 * The WebAssembly softmax kernels (the wasm backends of 'softmax', 'causalSoftmax', 'softmaxVjp' and
 * 'logSoftmaxVjp'):
 * bit for bit the CPU reference on float32 rows — plain, causal (blocks of T rows, zeros past the
 * diagonal) and the VJP — and within float32 rounding of naive float64 formulas with Math.exp written
 * here (the exponentials two lanes at a time, odd row widths included); log-softmax likewise, and its
 * VJP bit for bit the CPU reference; against x − m − log Σ exp(x − m) with Math.exp; outputs poisoned with
 * NaN. Float64 goes to the CPU reference. The registration self-check must reject a kernel that is
 * off in one element.
 */
import t from 'tap';
import {
  cpuCausalSoftmax,
  cpuLogSoftmaxVjp,
  cpuSoftmax,
  cpuSoftmaxVjp,
} from '../../src/kernels/cpu/softmax.js';
import type { LogSoftmaxVjpKernel, SoftmaxKernel, SoftmaxVjpKernel } from '../../src/kernels/registry.js';
import { logSoftmaxVjpSelfCheck, softmaxSelfCheck } from '../../src/kernels/wasm/exact-checks.js';
import { WasmSoftmax } from '../../src/kernels/wasm/softmax.js';
import { normals } from '../helpers/random.js';

/** Naive softmax of row r's first `width` entries, zeros after; the VJP y(g − Σ g·y). */
function naive(x: ArrayLike<number>, g: ArrayLike<number>, rows: number, cols: number, causal: boolean) {
  const y = new Float64Array(rows * cols);
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const width = causal ? (r % cols) + 1 : cols;
    const row = Array.from({ length: width }, (_, j) => x[r * cols + j]);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    for (let j = 0; j < width; j++) y[r * cols + j] = e[j] / s;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += g[r * cols + j] * y[r * cols + j];
    for (let j = 0; j < cols; j++) dx[r * cols + j] = y[r * cols + j] * (g[r * cols + j] - dot);
  }
  return { y, dx };
}

const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let bad = 0;
  for (let i = 0; i < b.length; i++) if (!Object.is(a[i], b[i])) bad++;
  return bad;
};

t.test('float32 rows: bit for bit the CPU reference, close to naive float64', async (t) => {
  const w = new WasmSoftmax();
  for (const [rows, cols] of [
    [1, 1],
    [5, 3],
    [128, 64],
    [6, 80],
  ]) {
    const n = rows * cols;
    const x = Float32Array.from(normals(n, rows, 'sm-x', cols), (v, i) => v * (i % 3 === 0 ? 40 : 2));
    const g = Float32Array.from(normals(n, rows, 'sm-g', cols));
    for (const causal of [false, true]) {
      if (causal && rows % cols !== 0) continue;
      const got = new Float32Array(n).fill(NaN);
      const want = new Float32Array(n).fill(NaN);
      if (causal) {
        w.causalSoftmax(x, rows, cols, got);
        cpuCausalSoftmax(x, rows, cols, want);
      } else {
        w.softmax(x, rows, cols, got, false);
        cpuSoftmax(x, rows, cols, want, false);
      }
      const label = `${causal ? 'causal ' : ''}${rows}×${cols}`;
      t.equal(sameBits(got, want), 0, `${label}: softmax equals the CPU reference bit for bit`);
      const dGot = new Float32Array(n).fill(NaN);
      const dWant = new Float32Array(n).fill(NaN);
      w.softmaxVjp(got, g, rows, cols, dGot);
      cpuSoftmaxVjp(want, g, rows, cols, dWant);
      t.equal(sameBits(dGot, dWant), 0, `${label}: VJP equals the CPU reference bit for bit`);
      const ref = naive(x, g, rows, cols, causal);
      let e = 0;
      for (let i = 0; i < n; i++) {
        e = Math.max(
          e,
          Math.abs(got[i] - ref.y[i]),
          Math.abs(dGot[i] - ref.dx[i]) / Math.max(1, Math.abs(ref.dx[i])),
        );
      }
      t.ok(e < 1e-6, `${label}: within float32 rounding of float64 (${e.toExponential(2)})`);
    }
  }
});

t.test('float32 log-softmax: bit for bit the CPU reference, close to naive float64', async (t) => {
  const w = new WasmSoftmax();
  for (const [rows, cols] of [
    [1, 1],
    [7, 3],
    [2048, 65],
    [3, 130],
  ]) {
    const n = rows * cols;
    // Spreads out to ±120 reach the exponential's lower clamp.
    const x = Float32Array.from(normals(n, rows, 'lsm-x', cols), (v, i) => v * (i % 5 === 0 ? 40 : 3));
    const got = new Float32Array(n).fill(NaN);
    const want = new Float32Array(n).fill(NaN);
    w.softmax(x, rows, cols, got, true);
    cpuSoftmax(x, rows, cols, want, true);
    t.equal(sameBits(got, want), 0, `${rows}×${cols}: equals the CPU reference bit for bit`);
    let e = 0;
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
      for (let j = 0; j < cols; j++) {
        const ref = row[j] - lse;
        e = Math.max(e, Math.abs(got[r * cols + j] - ref) / Math.max(1, Math.abs(ref)));
      }
    }
    t.ok(e < 2e-7, `${rows}×${cols}: within float32 rounding of float64 (${e.toExponential(2)})`);
  }
});

t.test(
  'float32 log-softmax VJP: bit for bit the CPU reference; its self-check rejects an error',
  async (t) => {
    const w = new WasmSoftmax();
    for (const [rows, cols] of [
      [1, 1],
      [7, 3],
      [5, 4],
      [2048, 89],
      [3, 130],
    ]) {
      const n = rows * cols;
      const x = Float32Array.from(normals(n, rows, 'lsv-x', cols), (v, i) => v * (i % 5 === 0 ? 40 : 3));
      const y = new Float32Array(n);
      cpuSoftmax(x, rows, cols, y, true);
      // A cross-entropy-like g (one −1/rows per row) on odd rows, dense normals on even ones.
      const g = Float32Array.from(normals(n, rows, 'lsv-g', cols), (v, i) =>
        Math.floor(i / cols) % 2 === 0 ? v : i % cols === (7 * Math.floor(i / cols)) % cols ? -1 / rows : 0,
      );
      const got = new Float32Array(n).fill(NaN);
      const want = new Float32Array(n).fill(NaN);
      w.logSoftmaxVjp(y, g, rows, cols, got);
      cpuLogSoftmaxVjp(y, g, rows, cols, want);
      t.equal(sameBits(got, want), 0, `${rows}×${cols}: equals the CPU reference bit for bit`);
    }
    const g64 = Float64Array.from(normals(12, 1, 'lsv-64'));
    const got64 = new Float64Array(12).fill(NaN);
    const want64 = new Float64Array(12).fill(NaN);
    w.logSoftmaxVjp(
      g64.map((v) => -Math.abs(v)),
      g64,
      3,
      4,
      got64,
    );
    cpuLogSoftmaxVjp(
      g64.map((v) => -Math.abs(v)),
      g64,
      3,
      4,
      want64,
    );
    t.equal(sameBits(got64, want64), 0, 'float64 goes to the CPU reference');
    t.ok(logSoftmaxVjpSelfCheck(w.logSoftmaxVjp));
    const wrong: LogSoftmaxVjpKernel = (y, g, rows, cols, out) => {
      w.logSoftmaxVjp(y, g, rows, cols, out);
      if (out.length > 5) out[5] = Math.fround(out[5] * (1 + 2 ** -20) + 2 ** -40);
    };
    t.notOk(logSoftmaxVjpSelfCheck(wrong), 'rejects a VJP off in one element');
  },
);

t.test('float64 goes to the CPU reference', async (t) => {
  const w = new WasmSoftmax();
  const x64 = Float64Array.from(normals(24, 1, 'sm-log'));
  for (const log of [false, true]) {
    const got64 = new Float64Array(24).fill(NaN);
    const want64 = new Float64Array(24).fill(NaN);
    w.softmax(x64, 4, 6, got64, log);
    cpuSoftmax(x64, 4, 6, want64, log);
    t.equal(sameBits(got64, want64), 0, `float64 ${log ? 'log-' : ''}softmax`);
  }
  const got64 = new Float64Array(24).fill(NaN);
  const want64 = new Float64Array(24).fill(NaN);
  w.causalSoftmax(x64, 24, 6, got64);
  cpuCausalSoftmax(x64, 24, 6, want64);
  t.equal(sameBits(got64, want64), 0, 'float64 causal');
});

t.test('the self-check passes the wasm kernels and rejects one off in a single element', async (t) => {
  const w = new WasmSoftmax();
  t.ok(softmaxSelfCheck(w.softmax, w.causalSoftmax, w.softmaxVjp));
  const wrong: SoftmaxVjpKernel = (y, g, rows, cols, out) => {
    w.softmaxVjp(y, g, rows, cols, out);
    if (out.length > 5) out[5] = Math.fround(out[5] * (1 + 2 ** -20) + 2 ** -40);
  };
  t.notOk(softmaxSelfCheck(w.softmax, w.causalSoftmax, wrong));
  const wrongLog: SoftmaxKernel = (x, rows, cols, out, log) => {
    w.softmax(x, rows, cols, out, log);
    if (log && out.length > 5) out[5] = Math.fround(out[5] * (1 + 2 ** -20) + 2 ** -40);
  };
  t.notOk(
    softmaxSelfCheck(wrongLog, w.causalSoftmax, w.softmaxVjp),
    'rejects a log-softmax off in one element',
  );
});
