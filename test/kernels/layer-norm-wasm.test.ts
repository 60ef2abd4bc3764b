/**
 * The WebAssembly LayerNorm forward and backward (the 'layerNorm' / 'layerNormVjp' kernels' wasm
 * backends): bit for bit the CPU reference on float32 rows of many widths (1, odd, the GPT's 64), and
 * within float32 rounding of naive float64 formulas written here; every output poisoned with NaN
 * first. Float64 goes to the CPU reference. The registration self-check must reject a kernel that is
 * off in one element.
 */
import t from 'tap';
import { cpuLayerNorm, cpuLayerNormVjp } from '../../src/kernels/cpu/layer-norm.js';
import type { LayerNormKernel, LayerNormVjpKernel } from '../../src/kernels/registry.js';
import { layerNormSelfCheck } from '../../src/kernels/wasm/exact-checks.js';
import { WasmLayerNorm } from '../../src/kernels/wasm/layer-norm.js';
import { normals } from '../helpers/random.js';

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

function run(
  Ctor: Ctor,
  fw: LayerNormKernel,
  bw: LayerNormVjpKernel,
  rows: number,
  cols: number,
  seed: number,
) {
  const n = rows * cols;
  const x = Ctor.from(Array.from(normals(n, seed, 'ln-x'), (v, i) => v * (1 + (i % 5)) + 0.3));
  const gain = Ctor.from(Array.from(normals(cols, seed, 'ln-gain'), (v) => 1 + 0.5 * v));
  const bias = Ctor.from(normals(cols, seed, 'ln-bias'));
  const g = Ctor.from(normals(n, seed, 'ln-g'));
  const out = [n, n, rows, n, cols, cols].map((k) => new Ctor(k).fill(NaN));
  const [y, xhat, rstd, dx, dgain, dbias] = out;
  fw(x, rows, cols, 1e-5, gain, bias, y, xhat, rstd);
  bw(g, xhat, rstd, gain, rows, cols, dx, dgain, dbias);
  return { x, gain, bias, g, out };
}

/** Naive float64 LayerNorm and its gradients (two-pass statistics, the textbook VJP). */
function naive(
  x: ArrayLike<number>,
  gain: ArrayLike<number>,
  bias: ArrayLike<number>,
  g: ArrayLike<number>,
  rows: number,
  cols: number,
) {
  const y = new Float64Array(rows * cols);
  const dx = new Float64Array(rows * cols);
  const dgain = new Float64Array(cols);
  const dbias = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: cols }, (_, j) => x[r * cols + j]);
    const mean = row.reduce((a, b) => a + b, 0) / cols;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / cols;
    const rstd = 1 / Math.sqrt(variance + 1e-5);
    const xh = row.map((v) => (v - mean) * rstd);
    const gh = xh.map((_, j) => g[r * cols + j] * gain[j]);
    const mg = gh.reduce((a, b) => a + b, 0) / cols;
    const mgx = gh.reduce((a, b, j) => a + b * xh[j], 0) / cols;
    for (let j = 0; j < cols; j++) {
      y[r * cols + j] = xh[j] * gain[j] + bias[j];
      dx[r * cols + j] = rstd * (gh[j] - mg - xh[j] * mgx);
      dgain[j] += g[r * cols + j] * xh[j];
      dbias[j] += g[r * cols + j];
    }
  }
  return { y, dx, dgain, dbias };
}

t.test('float32 rows: bit for bit the CPU reference, and close to naive float64 formulas', async (t) => {
  const w = new WasmLayerNorm();
  for (const [rows, cols] of [
    [1, 1],
    [3, 5],
    [7, 64],
    [2048, 64],
    [4, 131],
  ]) {
    const got = run(Float32Array, w.forward, w.backward, rows, cols, rows + cols);
    const want = run(Float32Array, cpuLayerNorm, cpuLayerNormVjp, rows, cols, rows + cols);
    const names = ['y', 'xhat', 'rstd', 'dx', 'dgain', 'dbias'];
    for (let k = 0; k < names.length; k++) {
      let bad = 0;
      got.out[k].forEach((v, i) => void (Object.is(v, want.out[k][i]) || bad++));
      t.equal(bad, 0, `${rows}×${cols} ${names[k]}: equals the CPU reference bit for bit`);
    }
    const ref = naive(got.x, got.gain, got.bias, got.g, rows, cols);
    const worst = (a: ArrayLike<number>, b: Float64Array, scale: number) => {
      let e = 0;
      for (let i = 0; i < b.length; i++)
        e = Math.max(e, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])) / scale);
      return e;
    };
    // Gradient sums over rows scale with the row count.
    t.ok(worst(got.out[0], ref.y, 1) < 1e-5, `${rows}×${cols} y vs float64`);
    t.ok(worst(got.out[3], ref.dx, 1) < 1e-4, `${rows}×${cols} dx vs float64`);
    t.ok(worst(got.out[4], ref.dgain, Math.sqrt(rows)) < 1e-4, `${rows}×${cols} dgain vs float64`);
    t.ok(worst(got.out[5], ref.dbias, Math.sqrt(rows)) < 1e-4, `${rows}×${cols} dbias vs float64`);
  }
});

t.test('float64 goes to the CPU reference', async (t) => {
  const w = new WasmLayerNorm();
  const got = run(Float64Array, w.forward, w.backward, 3, 9, 1);
  const want = run(Float64Array, cpuLayerNorm, cpuLayerNormVjp, 3, 9, 1);
  t.ok(got.out.every((o, k) => o.every((v, i) => Object.is(v, want.out[k][i]))));
});

t.test('the self-check passes the wasm kernels and rejects one off in a single element', async (t) => {
  const w = new WasmLayerNorm();
  t.ok(layerNormSelfCheck(w.forward, w.backward));
  const wrong: LayerNormVjpKernel = (g, xhat, rstd, gain, rows, cols, dx, dgain, dbias) => {
    w.backward(g, xhat, rstd, gain, rows, cols, dx, dgain, dbias);
    if (cols > 1) dgain[1] = Math.fround(dgain[1] * (1 + 2 ** -20));
  };
  t.notOk(layerNormSelfCheck(w.forward, wrong));
});
