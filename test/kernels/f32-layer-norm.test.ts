/**
 * The float32 LayerNorm kernels ('wasm-f32' backends of 'layerNorm', 'layerNormVjp', 'normalize')
 * against float64 math computed here (naive two-pass loops on the same float32 inputs): the error
 * bounds stated in src/kernels/wasm-f32/layer-norm.ts; widths that leave a partial quad, one column,
 * empty inputs; NaN, ±Inf, equal rows and the float32 overflow the file documents; the same bits on
 * every run; float64 handed to the CPU reference; the self-checks rejecting a kernel off in one
 * element; and `HESSFLOW_KERNELS=exact` leaving the backends unregistered.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { cpuNormalize } from '../../src/kernels/cpu/elementwise.js';
import { cpuLayerNorm, cpuLayerNormVjp } from '../../src/kernels/cpu/layer-norm.js';
import { activeKernelBackend, kernelBackends } from '../../src/kernels/registry.js';
import type { LayerNormKernel, LayerNormVjpKernel } from '../../src/kernels/registry.js';
import {
  backwardSelfCheck,
  forwardSelfCheck,
  normalizeSelfCheck,
} from '../../src/kernels/wasm-f32/layer-norm-check.js';
import { WasmF32LayerNorm, wasmF32LayerNorm } from '../../src/kernels/wasm-f32/layer-norm.js';
import { normals, uniforms } from '../helpers/random.js';

const w = new WasmF32LayerNorm();
const EPS = 1e-5;

/** Float64 LayerNorm statistics and outputs of float32 rows (two passes). */
function naiveForward(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  gain: ArrayLike<number>,
  bias: ArrayLike<number>,
) {
  const y = new Float64Array(rows * cols);
  const xhat = new Float64Array(rows * cols);
  const rstd = new Float64Array(rows);
  const means = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < cols; j++) mean += x[r * cols + j];
    mean /= cols;
    let v = 0;
    for (let j = 0; j < cols; j++) v += (x[r * cols + j] - mean) ** 2;
    rstd[r] = 1 / Math.sqrt(v / cols + EPS);
    means[r] = mean;
    for (let j = 0; j < cols; j++) {
      const k = r * cols + j;
      xhat[k] = (x[k] - mean) * rstd[r];
      y[k] = xhat[k] * gain[j] + bias[j];
    }
  }
  return { y, xhat, rstd, means };
}

/** The float64 VJP at the given x̂ and rstd, with the scales the errors are measured against. */
function naiveBackward(
  g: ArrayLike<number>,
  xhat: ArrayLike<number>,
  rstd: ArrayLike<number>,
  gain: ArrayLike<number>,
  rows: number,
  cols: number,
) {
  const n = rows * cols;
  const dx = new Float64Array(n);
  const dxScale = new Float64Array(n);
  const dgain = new Float64Array(cols);
  const dbias = new Float64Array(cols);
  const dgainScale = new Float64Array(cols);
  const dbiasScale = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    let mg = 0;
    let mgx = 0;
    let mabs = 0;
    for (let j = 0; j < cols; j++) {
      const k = r * cols + j;
      const gh = g[k] * gain[j];
      mg += gh;
      mgx += gh * xhat[k];
      mabs += Math.abs(gh);
      dgain[j] += g[k] * xhat[k];
      dbias[j] += g[k];
      dgainScale[j] += Math.abs(g[k] * xhat[k]);
      dbiasScale[j] += Math.abs(g[k]);
    }
    [mg, mgx, mabs] = [mg / cols, mgx / cols, mabs / cols];
    for (let j = 0; j < cols; j++) {
      const k = r * cols + j;
      dx[k] = rstd[r] * (g[k] * gain[j] - mg - xhat[k] * mgx);
      dxScale[k] = rstd[r] * (Math.abs(g[k] * gain[j]) + mabs * (1 + Math.abs(xhat[k])));
    }
  }
  return { dx, dxScale, dgain, dbias, dgainScale, dbiasScale };
}

/** max |got − want| / scale (scale defaults to max(|want|, 1)); NaN anywhere counts as Infinity. */
function worst(got: ArrayLike<number>, want: ArrayLike<number>, scale?: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) {
    const diff = Math.abs(got[i] - want[i]);
    // An exact zero of a zero-scale element (x̂ = 0 with one column) is no error.
    const d = diff === 0 ? 0 : diff / (scale ? scale[i] : Math.max(Math.abs(want[i]), 1));
    e = Number.isNaN(d) ? Infinity : Math.max(e, d);
  }
  return e;
}

/** Rows N(mu_r, sigma_r²) with |mu_r| / sigma_r up to `ratio`, sigma_r over six decades. */
function rowsOf(rows: number, cols: number, ratio: number, seed: number): Float32Array {
  const z = normals(rows * cols, seed, 'x');
  const sigma = uniforms(rows, -3, 3, seed, 'sigma').map((v) => 10 ** v);
  const mu = uniforms(rows, -ratio, ratio, seed, 'mu');
  return Float32Array.from(z, (v, i) => sigma[Math.floor(i / cols)] * (mu[Math.floor(i / cols)] + v));
}

function forward(
  kernel: LayerNormKernel,
  x: Float32Array,
  rows: number,
  cols: number,
  gain: Float32Array,
  bias: Float32Array,
) {
  const out = [rows * cols, rows * cols, rows].map((k) => new Float32Array(k).fill(NaN));
  kernel(x, rows, cols, EPS, gain, bias, out[0], out[1], out[2]);
  return { y: out[0], xhat: out[1], rstd: out[2] };
}

function backward(
  kernel: LayerNormVjpKernel,
  g: Float32Array,
  xhat: Float32Array,
  rstd: Float32Array,
  gain: Float32Array,
  rows: number,
  cols: number,
) {
  const out = [rows * cols, cols, cols].map((k) => new Float32Array(k).fill(NaN));
  kernel(g, xhat, rstd, gain, rows, cols, out[0], out[1], out[2]);
  return { dx: out[0], dgain: out[1], dbias: out[2] };
}

const WIDTHS = [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 63, 64, 65, 131, 200];

t.test('forward and normalize: within the stated bound of float64 math, every width', async (t) => {
  const e = { xhat: 0, y: 0, rstd: 0, normalize: 0 };
  for (const cols of WIDTHS) {
    for (const ratio of [0, 1, 10]) {
      const rows = cols === 64 ? 2048 : 37;
      const seed = 1000 * cols + ratio;
      const x = rowsOf(rows, cols, ratio, seed);
      const gain = Float32Array.from(normals(cols, seed, 'gain'), (v) => 1 + 0.5 * v);
      const bias = Float32Array.from(normals(cols, seed, 'bias'));
      const want = naiveForward(x, rows, cols, gain, bias);
      const got = forward(w.forward, x, rows, cols, gain, bias);
      // The float32 mean's rounding moves x̂ by up to ½ulp(mean)·rstd: scale by |mean|·rstd too.
      const shift = (k: number): number =>
        Math.abs(want.means[Math.floor(k / cols)]) * want.rstd[Math.floor(k / cols)];
      const hScale = want.xhat.map((h, k) => Math.max(1, Math.abs(h)) + shift(k));
      e.xhat = Math.max(e.xhat, worst(got.xhat, want.xhat, hScale));
      // y sums two terms: scaled by |x̂·gain| + |bias|, as the property test does, and the shift.
      const yScale = want.y.map(
        (_, k) =>
          Math.max(1, Math.abs(want.xhat[k] * gain[k % cols]) + Math.abs(bias[k % cols])) +
          shift(k) * Math.abs(gain[k % cols]),
      );
      e.y = Math.max(e.y, worst(got.y, want.y, yScale));
      e.rstd = Math.max(e.rstd, worst(got.rstd, want.rstd, want.rstd.map(Math.abs)));
      const nx = new Float32Array(rows * cols).fill(NaN);
      const nr = new Float32Array(rows).fill(NaN);
      w.normalize(x, rows, cols, EPS, nx, nr);
      e.normalize = Math.max(
        e.normalize,
        worst(nx, want.xhat, hScale),
        worst(nr, want.rstd, want.rstd.map(Math.abs)),
      );
    }
  }
  t.comment(`worst errors vs float64: ${JSON.stringify(e)}`);
  t.ok(e.xhat <= 3e-7, `x̂: ${e.xhat.toExponential(2)} ≤ 3e-7 of max(|x̂|, 1) + |mean|·rstd`);
  t.ok(e.y <= 3.6e-7, `y: ${e.y.toExponential(2)} ≤ 3.6e-7 of max(|x̂·gain| + |bias|, 1) + |mean·gain|·rstd`);
  t.ok(e.rstd <= 2.4e-7, `rstd: ${e.rstd.toExponential(2)} ≤ 2.4e-7 relative`);
  t.ok(e.normalize <= 3e-7, `normalize: ${e.normalize.toExponential(2)} ≤ 3e-7 (x̂'s scale; rstd relative)`);
});

t.test('backward: within the stated bound of the float64 VJP, every width', async (t) => {
  const e = { dx: 0, dgain: 0, dbias: 0 };
  for (const cols of WIDTHS) {
    const rows = cols === 64 ? 2048 : 150;
    const seed = 77 * cols;
    const x = rowsOf(rows, cols, 3, seed);
    const gain = Float32Array.from(normals(cols, seed, 'gain'), (v) => 1 + 0.5 * v);
    const bias = new Float32Array(cols);
    const { xhat, rstd } = forward(cpuLayerNorm, x, rows, cols, gain, bias);
    const g = Float32Array.from(normals(rows * cols, seed, 'g'));
    const want = naiveBackward(g, xhat, rstd, gain, rows, cols);
    const got = backward(w.backward, g, xhat, rstd, gain, rows, cols);
    e.dx = Math.max(e.dx, worst(got.dx, want.dx, want.dxScale));
    e.dgain = Math.max(e.dgain, worst(got.dgain, want.dgain, want.dgainScale));
    e.dbias = Math.max(e.dbias, worst(got.dbias, want.dbias, want.dbiasScale));
  }
  t.comment(`worst errors vs float64: ${JSON.stringify(e)}`);
  t.ok(e.dx <= 2.4e-7, `dx: ${e.dx.toExponential(2)} ≤ 2.4e-7 of rstd·(|ĝ| + mean|ĝ|·(1 + |x̂|))`);
  t.ok(e.dgain <= 1.2e-7, `dgain: ${e.dgain.toExponential(2)} ≤ 1.2e-7 of Σ|g·x̂|`);
  t.ok(e.dbias <= 1.2e-7, `dbias: ${e.dbias.toExponential(2)} ≤ 1.2e-7 of Σ|g|`);
});

t.test(
  'edge rows: equal values, one column, NaN, ±Inf, ±0, subnormals, and the float32 overflow',
  async (t) => {
    const cols = 7;
    const gain = Float32Array.from({ length: cols }, (_, j) => 1 + j / 4);
    const bias = Float32Array.from({ length: cols }, (_, j) => j / 8 - 0.25);
    const rowsIn: number[][] = [
      Array(cols).fill(0.1), // equal: x̂ = 0 even though Σ0.1 / 7 is inexact in float32
      [1, NaN, 2, 3, 4, 5, 6],
      [Infinity, 1, 2, 3, 4, 5, 6],
      [0, 1, 2, 3, 4, 5, -Infinity],
      [0, -0, 0, -0, 0, -0, 0],
      [1e-40, -1e-40, 2e-40, 0, -3e-40, 1e-45, 0], // subnormal: x̂ ≈ 0 (eps dominates)
      [3, -1, 4, -1, 5, -9, 2], // a finite row among the special ones stays exact
      [1e20, -1e20, 1e20, -1e20, 1e20, -1e20, 1e20], // (x − mean)² overflows float32
    ];
    const rows = rowsIn.length;
    const x = Float32Array.from(rowsIn.flat());
    const got = forward(w.forward, x, rows, cols, gain, bias);
    const want = naiveForward(x, rows, cols, gain, bias);
    const row = (a: Float32Array, r: number): number[] => Array.from(a.subarray(r * cols, (r + 1) * cols));
    t.ok(
      row(got.xhat, 0).every((v) => Math.abs(v) <= 1e-6),
      `equal row: x̂ ≈ 0 (${row(got.xhat, 0)})`,
    );
    t.ok(
      row(got.y, 0).every((v, j) => Math.abs(v - bias[j]) <= 1e-6),
      'equal row: y ≈ bias',
    );
    t.ok(
      Math.abs(got.rstd[0] - 1 / Math.sqrt(EPS)) <= 1e-6 * 316.3,
      `equal row: rstd = 1/√eps (${got.rstd[0]})`,
    );
    for (const r of [1, 2, 3]) {
      t.ok(
        row(got.xhat, r).every(Number.isNaN) && row(got.y, r).every(Number.isNaN),
        `row ${r}: x̂ and y NaN`,
      );
      t.ok(Number.isNaN(got.rstd[r]), `row ${r}: rstd NaN`);
    }
    t.ok(
      row(got.xhat, 4).every((v) => v === 0),
      '±0 row: x̂ = 0',
    );
    t.ok(
      row(got.xhat, 5).every((v, j) => Math.abs(v - want.xhat[5 * cols + j]) <= 1e-12),
      'subnormal row: x̂ ≈ float64',
    );
    t.ok(
      worst(row(got.xhat, 6), row(Float32Array.from(want.xhat), 6)) <= 3e-7,
      'finite row next to NaN rows: accurate',
    );
    t.equal(got.rstd[7], 0, 'overflowing row: rstd = 0 (float32 Σd² = Inf), as the header states');
    t.ok(
      row(got.xhat, 7).every((v) => v === 0),
      'overflowing row: x̂ = 0 where float64 gives ±1',
    );

    // One column: x̂ = 0, y = bias, rstd = 1/√eps for any finite x.
    const one = forward(
      w.forward,
      Float32Array.of(5, -3e30, 0),
      3,
      1,
      Float32Array.of(2),
      Float32Array.of(0.5),
    );
    t.same(Array.from(one.xhat), [0, 0, 0], 'one column: x̂ = 0');
    t.same(Array.from(one.y), [0.5, 0.5, 0.5], 'one column: y = bias');

    // Backward: a NaN in g poisons its row's dx and its column's sums, nothing else.
    const g = Float32Array.from({ length: 3 * cols }, (_, i) => Math.sin(i));
    g[cols + 2] = NaN;
    const fx = Float32Array.from({ length: 3 * cols }, (_, i) => Math.cos(i * 1.3) * 2);
    const f = forward(cpuLayerNorm, fx, 3, cols, gain, bias);
    const b = backward(w.backward, g, f.xhat, f.rstd, gain, 3, cols);
    t.ok(row(b.dx, 1).every(Number.isNaN), 'NaN in g: its row of dx is NaN');
    t.ok(
      [0, 2].every((r) => row(b.dx, r).every(Number.isFinite)),
      'other rows of dx finite',
    );
    t.ok(
      Array.from(b.dgain).every((v, j) => Number.isNaN(v) === (j === 2)),
      'dgain NaN in that column only',
    );
    t.ok(
      Array.from(b.dbias).every((v, j) => Number.isNaN(v) === (j === 2)),
      'dbias NaN in that column only',
    );
  },
);

t.test(
  'tails and sizes: partial quads never touch neighbours; empty inputs match the reference',
  async (t) => {
    for (const [rows, cols] of [
      [1, 1],
      [1, 3],
      [5, 5],
      [33, 6],
      [70, 13],
    ]) {
      const x = rowsOf(rows, cols, 1, rows * cols);
      const gain = Float32Array.from(normals(cols, 5, 'g'));
      const bias = Float32Array.from(normals(cols, 5, 'b'));
      // Outputs inside larger poisoned buffers: nothing past the views may change.
      const pad = 8;
      const big = [rows * cols, rows * cols, rows].map((k) => new Float32Array(k + pad).fill(-7));
      const [y, xhat, rstd] = big.map((a, i) => a.subarray(0, [rows * cols, rows * cols, rows][i]));
      w.forward(x, rows, cols, EPS, gain, bias, y, xhat, rstd);
      t.ok(
        big.every((a) => a.subarray(a.length - pad).every((v) => v === -7)),
        `${rows}×${cols}: nothing past the outputs`,
      );
      const want = naiveForward(x, rows, cols, gain, bias);
      const shift = (k: number): number =>
        Math.abs(want.means[Math.floor(k / cols)]) * want.rstd[Math.floor(k / cols)];
      t.ok(
        worst(
          xhat,
          want.xhat,
          want.xhat.map((h, k) => Math.max(1, Math.abs(h)) + shift(k)),
        ) <= 3e-7,
        `${rows}×${cols}: x̂`,
      );
      const g = Float32Array.from(normals(rows * cols, 5, 'g'));
      const bw = backward(w.backward, g, xhat, rstd, gain, rows, cols);
      const bwWant = naiveBackward(g, xhat, rstd, gain, rows, cols);
      t.ok(worst(bw.dx, bwWant.dx, bwWant.dxScale) <= 2.4e-7, `${rows}×${cols}: dx`);
      t.ok(worst(bw.dgain, bwWant.dgain, bwWant.dgainScale) <= 1.2e-7, `${rows}×${cols}: dgain`);
    }
    for (const [rows, cols] of [
      [0, 4],
      [3, 0],
    ]) {
      const x = new Float32Array(0);
      const out = [new Float32Array(0), new Float32Array(0), new Float32Array(rows).fill(NaN)];
      const ref = [new Float32Array(0), new Float32Array(0), new Float32Array(rows).fill(NaN)];
      w.forward(x, rows, cols, EPS, new Float32Array(cols), new Float32Array(cols), out[0], out[1], out[2]);
      cpuLayerNorm(
        x,
        rows,
        cols,
        EPS,
        new Float32Array(cols),
        new Float32Array(cols),
        ref[0],
        ref[1],
        ref[2],
      );
      t.same(out, ref, `forward ${rows}×${cols}: as the reference`);
      const d = [new Float32Array(0), new Float32Array(cols).fill(NaN), new Float32Array(cols).fill(NaN)];
      const dr = [new Float32Array(0), new Float32Array(cols).fill(NaN), new Float32Array(cols).fill(NaN)];
      w.backward(x, x, out[2], new Float32Array(cols), rows, cols, d[0], d[1], d[2]);
      cpuLayerNormVjp(x, x, ref[2], new Float32Array(cols), rows, cols, dr[0], dr[1], dr[2]);
      t.same(d, dr, `backward ${rows}×${cols}: as the reference (zero sums)`);
    }
  },
);

t.test('deterministic: the same bits on every call, whatever ran in between', async (t) => {
  const [rows, cols] = [300, 64];
  const x = rowsOf(rows, cols, 2, 9);
  const gain = Float32Array.from(normals(cols, 9, 'g'));
  const bias = Float32Array.from(normals(cols, 9, 'b'));
  const g = Float32Array.from(normals(rows * cols, 9, 'gy'));
  const run = () => {
    const f = forward(w.forward, x, rows, cols, gain, bias);
    const b = backward(w.backward, g, f.xhat, f.rstd, gain, rows, cols);
    return [f.y, f.xhat, f.rstd, b.dx, b.dgain, b.dbias].map((a) => Buffer.from(a.buffer).toString('hex'));
  };
  const first = run();
  forward(w.forward, rowsOf(50, 13, 1, 3), 50, 13, new Float32Array(13), new Float32Array(13));
  t.same(run(), first, 'same bits twice, with a different shape between');
  t.same(run(), first, 'and a third time');
});

t.test('float64 goes to the CPU reference, bit for bit', async (t) => {
  const [rows, cols] = [6, 9];
  const x = Float64Array.from(normals(rows * cols, 4, 'x'));
  const gain = Float64Array.from(normals(cols, 4, 'g'));
  const bias = Float64Array.from(normals(cols, 4, 'b'));
  const a = [rows * cols, rows * cols, rows].map((k) => new Float64Array(k));
  const b = [rows * cols, rows * cols, rows].map((k) => new Float64Array(k));
  w.forward(x, rows, cols, EPS, gain, bias, a[0], a[1], a[2]);
  cpuLayerNorm(x, rows, cols, EPS, gain, bias, b[0], b[1], b[2]);
  t.same(a, b, 'layerNorm');
  w.normalize(x, rows, cols, EPS, a[0], a[2]);
  cpuNormalize(x, rows, cols, EPS, b[0], b[2]);
  t.same(a, b, 'normalize');
  const g = Float64Array.from(normals(rows * cols, 4, 'gy'));
  const c = [rows * cols, cols, cols].map((k) => new Float64Array(k));
  const d = [rows * cols, cols, cols].map((k) => new Float64Array(k));
  w.backward(g, a[1], a[2], gain, rows, cols, c[0], c[1], c[2]);
  cpuLayerNormVjp(g, a[1], a[2], gain, rows, cols, d[0], d[1], d[2]);
  t.same(c, d, 'layerNormVjp');
});

t.test('the self-checks pass this backend and reject one that is off in one element', async (t) => {
  t.ok(
    forwardSelfCheck(w.forward) && backwardSelfCheck(w.backward) && normalizeSelfCheck(w.normalize),
    'pass',
  );
  t.notOk(
    forwardSelfCheck((x, rows, cols, eps, gain, bias, y, xhat, rstd) => {
      w.forward(x, rows, cols, eps, gain, bias, y, xhat, rstd);
      if (rows * cols > 20) y[17] += 1e-4 * Math.max(1, Math.abs(y[17]));
    }),
    'forward off by 1e-4 in one y',
  );
  t.notOk(
    normalizeSelfCheck((x, rows, cols, eps, xhat, rstd) => {
      w.normalize(x, rows, cols, eps, xhat, rstd);
      rstd[rows - 1] = NaN;
    }),
    'normalize with a NaN rstd',
  );
  t.notOk(
    backwardSelfCheck((g, xhat, rstd, gain, rows, cols, dx, dgain, dbias) => {
      w.backward(g, xhat, rstd, gain, rows, cols, dx, dgain, dbias);
      dbias[cols - 1] *= 1.001;
    }),
    'backward off by 0.1% in one dbias',
  );
});

t.test('registered and preferred in fast mode; HESSFLOW_KERNELS=exact leaves it out', async (t) => {
  t.ok(wasmF32LayerNorm, 'built in this (fast-mode) process');
  for (const name of ['layerNorm', 'layerNormVjp', 'normalize'] as const) {
    t.ok(kernelBackends(name).includes('wasm-f32'), `${name}: registered`);
    t.equal(activeKernelBackend(name), 'wasm-f32', `${name}: preferred`);
  }
  const script =
    "import('./src/kernels/index.ts').then((k) => console.log(JSON.stringify(['layerNorm', 'layerNormVjp', 'normalize'].map((n) => [k.kernelBackends(n), k.activeKernelBackend(n)]))))";
  const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    encoding: 'utf8',
    env: { ...process.env, HESSFLOW_KERNELS: 'exact' },
  });
  t.equal(child.status, 0, `child exits cleanly ${child.stderr}`);
  t.same(
    JSON.parse(child.stdout.trim().split('\n').at(-1) ?? 'null'),
    [
      [['cpu', 'wasm'], 'wasm'],
      [['cpu', 'wasm'], 'wasm'],
      [['cpu'], 'cpu'],
    ],
    'exact mode: no wasm-f32 backend; the exact ones active',
  );
});
