/**
 * The synchronous gpu.js forms of sum, max, the softmax family, layerNorm, layerNormVjp, geluVjp and
 * geluExp (src/kernels/gpujs/reduce.ts, src/kernels/gpujs/rows.ts) against the CPU references, in gpu.js's `cpu` mode and in
 * `webasm` where it works here. Inputs are fresh random float32 at sizes that are not multiples of
 * anything (1×1, 3×5, 7×33, 17×257; causal 64×64 and blocks of 5 and 33), outputs are poisoned with
 * NaN so an element a kernel skips fails.
 *
 * Tolerances: gpu.js's Math.exp/log/sqrt are Math's own, rounded to float32 (webasm imports them
 * as f32 → f32), and the references' expForFloat32 is within 4e-11 of Math.exp, so what differs is
 * float32 arithmetic against the references' float64 arithmetic. Forward outputs are held to 1e-5
 * of the call's largest |output| (rstd, one per row, to 1e-5 of itself). Outputs that cancel (the
 * VJPs, GELU′ near its zero) are held to 1e-5 of a per-element scale, the sum of the magnitudes of
 * the terms that cancel: the largest |output| can be far below them (layerNormVjp's dx is exactly 0
 * when cols = 1), so float32 rounding of the terms would fail a scale of the output. GELU′ also gets
 * 4|u|·eps32 (see there). Sums (sum, dgain, dbias) are held to 2·√n·eps32·Σ|terms| over their n
 * terms, as the matmul test holds dot products. max is exact. Each kernel's worst |error|/scale is
 * printed as a test comment (for the sums, |error| over that bound). Worst seen (cpu / webasm
 * mode): sum 0 / 0.13 of the bound, max 0 / 0, softmax 9.4e-8 / 5.2e-7, logSoftmax 1.0e-7 / 1.1e-7,
 * causalSoftmax 6.0e-8 / 1.2e-7, softmaxVjp 9.3e-8 / 1.3e-7, logSoftmaxVjp 8.7e-8 / 1.1e-7,
 * layerNorm y 9.3e-8 / 2.7e-7, x̂ 1.1e-7 / 3.1e-7, rstd 0 / 2.7e-7, layerNormVjp dx 1.2e-7 / 3.6e-7,
 * dgain 0 / 0.11 and dbias 0 / 0.21 of the bound, geluVjp 8.1e-7 / 9.9e-6 (the latter at x ≈ −10,
 * 0.38 of its |u|-widened tolerance).
 */
import t, { type Test } from 'tap';
import '../../src/kernels/cpu/register.js';
import {
  activeKernelBackend,
  kernelBackends,
  kernelFor,
  type KernelName,
} from '../../src/kernels/registry.js';
import { stridesOf } from '../../src/kernels/arrays.js';
import { registerGpuJsKernels, syncModeProblem, type SyncGpuJsMode } from '../../src/kernels/gpujs/sync.js';
import type { FloatArray } from '../../src/tensor/tensor.js';
import { EPS32, assertWithin, randF32 } from './fixtures/helpers.js';

const MODES: SyncGpuJsMode[] = ['cpu', 'webasm'];
const NEW_KERNELS: KernelName[] = [
  'sum',
  'max',
  'softmax',
  'causalSoftmax',
  'softmaxVjp',
  'logSoftmaxVjp',
  'layerNorm',
  'layerNormVjp',
  'geluExp',
  'geluVjp',
];
const SHAPES: [number, number][] = [
  [1, 1],
  [3, 5],
  [7, 33],
  [17, 257],
];
/** [rows, cols]: whole [cols, cols] blocks, then 7×5 (not whole blocks: the CPU reference inside). */
const CAUSAL_SHAPES: [number, number][] = [
  [1, 1],
  [64, 64],
  [15, 5],
  [66, 33],
  [7, 5],
];
const TOL = 1e-5;

const cpu = <K extends KernelName>(name: K) => kernelFor(name, 'cpu')!;
const nan32 = (n: number) => new Float32Array(n).fill(NaN);
function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
/** Error bound of a float32 sum of n terms whose magnitudes add to absSum (as matmul's test). */
const sumTol = (n: number, absSum: number) => 2 * Math.sqrt(n) * EPS32 * absSum + 1e-30;

/** Records each kernel's worst |error|/scale for the test comment, and asserts it within tol. */
class Worst {
  private readonly worst = new Map<string, number>();
  check(
    t: Test,
    name: string,
    got: ArrayLike<number>,
    want: ArrayLike<number>,
    scale: (i: number) => number,
    tol: number | ((i: number) => number),
    label: string,
  ): void {
    let w = this.worst.get(name) ?? 0;
    for (let i = 0; i < want.length; i++) {
      const same = got[i] === want[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
      const e = same ? 0 : Math.abs(got[i] - want[i]) / scale(i);
      if (!(e <= w)) w = Number.isNaN(e) ? Infinity : e;
    }
    this.worst.set(name, w);
    const tolAt = typeof tol === 'number' ? () => tol : tol;
    assertWithin(t, got, want, (i) => tolAt(i) * scale(i), `${name} ${label}`);
  }
  report(t: Test): void {
    for (const [name, w] of this.worst) t.comment(`${name}: worst |err|/scale ${w.toExponential(2)}`);
  }
}

/** Output strides of a kept-dims reduction of `shape` over `axes` (0 on the reduced axes). */
function keptStrides(shape: readonly number[], axes: readonly number[]): number[] {
  const s = stridesOf(shape.map((d, i) => (axes.includes(i) ? 1 : d)));
  return s.map((v, i) => (axes.includes(i) ? 0 : v));
}

for (const mode of MODES) {
  const problem = syncModeProblem(mode);
  if (problem) {
    t.test(`gpujs-${mode}`, { skip: problem }, async () => {});
    continue;
  }
  const backend = registerGpuJsKernels(mode);

  t.test(`${backend}: sum and max`, async (t) => {
    const worst = new Worst();
    // [shape, reduced axes, output strides if not kept-dims row-major]: full, row, column,
    // [k, r, k], [r, k, r], size-1 dims, no reduction; then two layouts the kernel's [k0, r0, k1, r1]
    // does not cover (the CPU reference inside): [r, k, r, k], and an output stored transposed
    // prettier-ignore
    const cases: [number[], number[], number[]?][] = [
      [[1, 1], [0, 1]],
      [[17, 257], [0, 1]],
      [[7, 33], [1]],
      [[3, 5], [1]],
      [[17, 257], [0]],
      [[3, 5, 7], [1]],
      [[3, 5, 7], [0, 2]],
      [[5, 1, 7], [2]],
      [[7, 33], []],
      [[2, 3, 5, 7], [0, 2]],
      [[3, 5, 7], [1], [1, 0, 3]],
    ];
    let seed = 0;
    for (const [shape, axes, strides] of cases) {
      const os = strides ?? keptStrides(shape, axes);
      const size = shape.reduce((a, b) => a * b, 1);
      const outSize = shape.reduce((a, d, i) => (axes.includes(i) ? a : a * d), 1);
      const x = randF32(size, -1, 1, ++seed, 'reduce');
      if (size > outSize) x[3] = NaN; // max skips NaN as the reference does; sum carries it
      const absSum = new Float32Array(outSize);
      cpu('sum')(x.map(Math.abs), shape, absSum, os);
      const label = `[${shape}] over [${axes}]${strides ? ` into strides [${strides}]` : ''}`;
      for (const op of ['sum', 'max'] as const) {
        const want = new Float32Array(outSize);
        cpu(op)(x, shape, want, os);
        const got = nan32(outSize);
        kernelFor(op, backend)!(x, shape, got, os);
        const n = size / outSize;
        if (op === 'sum') worst.check(t, op, got, want, (i) => sumTol(n, absSum[i]), 1, label);
        else worst.check(t, op, got, want, () => 1, 0, label);
      }
    }
    worst.report(t);
  });

  t.test(`${backend}: softmax and log-softmax`, async (t) => {
    const worst = new Worst();
    let seed = 100;
    for (const [rows, cols] of SHAPES) {
      const x = randF32(rows * cols, -8, 8, ++seed, 'softmax');
      for (const log of [false, true]) {
        const want = new Float32Array(rows * cols);
        cpu('softmax')(x, rows, cols, want, log);
        const got = nan32(rows * cols);
        kernelFor('softmax', backend)!(x, rows, cols, got, log);
        const scale = maxAbs(want);
        worst.check(t, log ? 'logSoftmax' : 'softmax', got, want, () => scale, TOL, `${rows}×${cols}`);
      }
    }
    worst.report(t);
  });

  t.test(`${backend}: causalSoftmax`, async (t) => {
    const worst = new Worst();
    let seed = 200;
    for (const [rows, cols] of CAUSAL_SHAPES) {
      const x = randF32(rows * cols, -8, 8, ++seed, 'causal');
      const want = new Float32Array(rows * cols);
      cpu('causalSoftmax')(x, rows, cols, want);
      const got = nan32(rows * cols);
      kernelFor('causalSoftmax', backend)!(x, rows, cols, got);
      const scale = maxAbs(want);
      worst.check(t, 'causalSoftmax', got, want, () => scale, TOL, `${rows}×${cols}`);
      let unmasked = 0;
      for (let r = 0; r < rows; r++)
        for (let j = (r % cols) + 1; j < cols; j++) if (!Object.is(got[r * cols + j], 0)) unmasked++;
      t.equal(unmasked, 0, `causalSoftmax ${rows}×${cols}: entries past the diagonal are exactly 0`);
    }
    worst.report(t);
  });

  t.test(`${backend}: softmaxVjp and logSoftmaxVjp`, async (t) => {
    const worst = new Worst();
    let seed = 300;
    for (const [rows, cols] of SHAPES) {
      const n = rows * cols;
      const x = randF32(n, -4, 4, ++seed, 'vjp-x');
      const g = randF32(n, -1, 1, seed, 'vjp-g');
      const y = new Float32Array(n);
      const ly = new Float32Array(n);
      cpu('softmax')(x, rows, cols, y, false);
      cpu('softmax')(x, rows, cols, ly, true);
      // scales: |y|·(|g| + Σ_row|g·y|) and |g| + exp(y)·Σ_row|g|, the terms before they cancel
      const gy = new Float64Array(rows);
      const ga = new Float64Array(rows);
      for (let i = 0; i < n; i++) {
        gy[Math.floor(i / cols)] += Math.abs(g[i] * y[i]);
        ga[Math.floor(i / cols)] += Math.abs(g[i]);
      }
      const label = `${rows}×${cols}`;

      let want = new Float32Array(n);
      cpu('softmaxVjp')(y, g, rows, cols, want);
      let got = nan32(n);
      kernelFor('softmaxVjp', backend)!(y, g, rows, cols, got);
      const sv = (i: number) => Math.abs(y[i]) * (Math.abs(g[i]) + gy[Math.floor(i / cols)]) + 1e-30;
      worst.check(t, 'softmaxVjp', got, want, sv, TOL, label);

      want = new Float32Array(n);
      cpu('logSoftmaxVjp')(ly, g, rows, cols, want);
      got = nan32(n);
      kernelFor('logSoftmaxVjp', backend)!(ly, g, rows, cols, got);
      const lv = (i: number) => Math.abs(g[i]) + Math.exp(ly[i]) * ga[Math.floor(i / cols)];
      worst.check(t, 'logSoftmaxVjp', got, want, lv, TOL, label);
    }
    worst.report(t);
  });

  t.test(`${backend}: layerNorm and layerNormVjp`, async (t) => {
    const worst = new Worst();
    let seed = 400;
    for (const [rows, cols] of SHAPES) {
      const n = rows * cols;
      const x = randF32(n, -2, 6, ++seed, 'ln-x'); // mean ≠ 0: x − mean must not cancel badly
      const gain = randF32(cols, 0.5, 1.5, seed, 'ln-gain');
      const bias = randF32(cols, -1, 1, seed, 'ln-bias');
      const label = `${rows}×${cols}`;
      const [y, xhat, rstd] = [new Float32Array(n), new Float32Array(n), new Float32Array(rows)];
      cpu('layerNorm')(x, rows, cols, 1e-5, gain, bias, y, xhat, rstd);
      const [gy, gxhat, grstd] = [nan32(n), nan32(n), nan32(rows)];
      kernelFor('layerNorm', backend)!(x, rows, cols, 1e-5, gain, bias, gy, gxhat, grstd);
      const [ys, xs] = [maxAbs(y), maxAbs(xhat) || 1]; // x̂ is all 0 when cols = 1
      worst.check(t, 'layerNorm y', gy, y, () => ys, TOL, label);
      worst.check(t, 'layerNorm xhat', gxhat, xhat, () => xs, TOL, label);
      worst.check(t, 'layerNorm rstd', grstd, rstd, (i) => rstd[i], TOL, label);

      // the backward from the reference forward's x̂ and rstd
      const g = randF32(n, -1, 1, seed, 'ln-g');
      const [dx, dgain, dbias] = [new Float32Array(n), new Float32Array(cols), new Float32Array(cols)];
      cpu('layerNormVjp')(g, xhat, rstd, gain, rows, cols, dx, dgain, dbias);
      const [gdx, gdgain, gdbias] = [nan32(n), nan32(cols), nan32(cols)];
      kernelFor('layerNormVjp', backend)!(g, xhat, rstd, gain, rows, cols, gdx, gdgain, gdbias);
      // dx scale rstd·(|g·gain| + |mean(g·gain)| + |x̂·mean(g·gain·x̂)|); column sums over rows terms
      const mg = new Float64Array(rows);
      const mgx = new Float64Array(rows);
      const [absGx, absG] = [new Float64Array(cols), new Float64Array(cols)];
      for (let i = 0; i < n; i++) {
        const [r, j] = [Math.floor(i / cols), i % cols];
        mg[r] += (g[i] * gain[j]) / cols;
        mgx[r] += (g[i] * gain[j] * xhat[i]) / cols;
        absGx[j] += Math.abs(g[i] * xhat[i]);
        absG[j] += Math.abs(g[i]);
      }
      const dxScale = (i: number) => {
        const [r, j] = [Math.floor(i / cols), i % cols];
        return rstd[r] * (Math.abs(g[i] * gain[j]) + Math.abs(mg[r]) + Math.abs(xhat[i] * mgx[r])) + 1e-30;
      };
      worst.check(t, 'layerNormVjp dx', gdx, dx, dxScale, TOL, label);
      worst.check(t, 'layerNormVjp dgain', gdgain, dgain, (j) => sumTol(rows, absGx[j]), 1, label);
      worst.check(t, 'layerNormVjp dbias', gdbias, dbias, (j) => sumTol(rows, absG[j]), 1, label);
    }
    worst.report(t);
  });

  t.test(`${backend}: geluVjp (with and without saved exponentials) and geluExp`, async (t) => {
    const worst = new Worst();
    const C = Math.sqrt(2 / Math.PI);
    const A = 0.044715;
    let seed = 500;
    for (const [rows, cols] of SHAPES) {
      const n = rows * cols;
      // past −10, where float32 exp(−2u) overflows
      const x = randF32(n, -12, 12, ++seed, 'gelu-x');
      const g = randF32(n, -1, 1, seed, 'gelu-g');
      const label = `n=${n}`;
      const want = new Float32Array(n);
      cpu('geluVjp')(x, g, want);
      const got = nan32(n);
      kernelFor('geluVjp', backend)!(x, g, got);
      // |g|·σ·(1 + |2x·e·σ·u′|), the two terms of GELU′ = σ·(1 + 2x·e·σ·u′) before they cancel; the
      // floor: for x ≲ −10 the reference's exp clamp (at 89) already puts it ~1e-36 off GELU′
      const scale = (i: number) => {
        const v = x[i];
        const e = Math.exp(-2 * C * (v + A * v * v * v));
        const s = 1 / (1 + e);
        return Math.abs(g[i]) * s * (1 + Math.abs(2 * v * e * s * C * (1 + 3 * A * v * v))) + 1e-30;
      };
      // float32 u = c(x + a·x³) is off by up to ~2·eps32 relative, which exp(−2|u|) turns into
      // 4|u|·eps32 relative (≈2e-5 at x = −10): a property of float32 GELU′ in its tails, added to
      // the tolerance
      const tol = (i: number) => TOL + 4 * Math.abs(C * (x[i] + A * x[i] ** 3)) * EPS32;
      worst.check(t, 'geluVjp', got, want, scale, tol, label);

      // geluExp is the CPU reference itself (its float64 exponentials are part of its contract)
      const [out, e] = [new Float32Array(n), new Float64Array(n)];
      cpu('geluExp')(x, out, e);
      const [gout, ge] = [nan32(n), new Float64Array(n).fill(NaN)];
      kernelFor('geluExp', backend)!(x, gout, ge);
      t.ok(
        out.every((v, i) => Object.is(v, gout[i])) && e.every((v, i) => Object.is(v, ge[i])),
        `geluExp ${label}: output and saved exponentials are the reference's, bit for bit`,
      );
      const withE = nan32(n);
      kernelFor('geluVjp', backend)!(x, g, withE, e);
      t.ok(
        withE.every((v, i) => Object.is(v, got[i])),
        `geluVjp ${label}: the same result with the saved exponentials as without`,
      );
    }
    worst.report(t);
  });

  t.test(`${backend}: float64 operands go to the CPU reference, bit for bit`, async (t) => {
    const [rows, cols] = [7, 33];
    const n = rows * cols;
    // float64 outputs with float64 inputs (values float32 cannot hold, so a float32 path would not
    // reproduce them), and float64 outputs of float32 inputs (a float32 path would round them)
    for (const inputs of ['float64', 'float32'] as const) {
      const input = (seed: number, lo: number, hi: number): FloatArray => {
        const v = randF32(n, lo, hi, seed, 'f64');
        return inputs === 'float32' ? v : Float64Array.from(v, (x, i) => x * (1 + 1e-12 * (i + 1)));
      };
      const x = input(1, -4, 4);
      const g = input(2, -1, 1);
      const gain = input(3, 0.5, 1.5).subarray(0, cols);
      const bias = input(4, -1, 1).subarray(0, cols);
      const rstd = input(5, 0.5, 2);
      const same = (name: string, run: (impl: string) => Float64Array[]) => {
        const want = run('cpu');
        const got = run(backend);
        t.ok(
          want.every((w, k) => w.every((v, i) => Object.is(v, got[k][i]))),
          `${name}, ${inputs} inputs: the float64 result is the CPU reference's bit for bit`,
        );
      };
      const o = (len = n) => new Float64Array(len).fill(NaN);
      for (const op of ['sum', 'max'] as const) {
        same(op, (b) => {
          const out = o(rows);
          kernelFor(op, b)!(x, [rows, cols], out, [1, 0]);
          return [out];
        });
      }
      for (const log of [false, true]) {
        same(`softmax log=${log}`, (b) => {
          const out = o();
          kernelFor('softmax', b)!(x, rows, cols, out, log);
          return [out];
        });
      }
      same('causalSoftmax', (b) => {
        const out = o(cols * cols);
        kernelFor('causalSoftmax', b)!(x, cols, cols, out);
        return [out];
      });
      for (const name of ['softmaxVjp', 'logSoftmaxVjp'] as const) {
        same(name, (b) => {
          const out = o();
          kernelFor(name, b)!(x, g, rows, cols, out);
          return [out];
        });
      }
      same('layerNorm', (b) => {
        const outs = [o(), o(), o(rows)];
        kernelFor('layerNorm', b)!(x, rows, cols, 1e-5, gain, bias, outs[0], outs[1], outs[2]);
        return outs;
      });
      same('layerNormVjp', (b) => {
        const outs = [o(), o(cols), o(cols)];
        kernelFor('layerNormVjp', b)!(g, x, rstd, gain, rows, cols, outs[0], outs[1], outs[2]);
        return outs;
      });
      same('geluExp', (b) => {
        const outs = [o(), o()];
        kernelFor('geluExp', b)!(x, outs[0], outs[1]);
        return outs;
      });
      same('geluVjp', (b) => {
        const out = o();
        kernelFor('geluVjp', b)!(x, g, out);
        return [out];
      });
    }
  });
}

t.test('registration: every kernel lists the gpu.js backends, and none is preferred', async (t) => {
  const backends = MODES.filter((m) => m === 'cpu' || syncModeProblem(m) === null).map(registerGpuJsKernels);
  t.ok(backends.includes('gpujs-cpu'));
  for (const name of NEW_KERNELS) {
    for (const b of backends) t.ok(kernelBackends(name).includes(b), `${name}: ${b} is registered`);
    t.notOk(activeKernelBackend(name).startsWith('gpujs-'), `${name}: a gpu.js backend is not preferred`);
  }
});
