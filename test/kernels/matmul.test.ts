/**
 * Every registered matmul backend against the CPU reference: odd sizes, all four transpose
 * combinations, batches with broadcast offsets, outputs poisoned with NaN (every element must be
 * written), stale or poisoned wasm memory, and degenerate sizes. Tolerances: float32 ≤ 1e-5 and float64
 * ≤ 1e-12, each element relative to the scale of its terms Σ|a·b| (see matmul-check.ts). The harness
 * itself is tested too: a kernel that is wrong by one element or leaves one element unwritten must fail.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { cpuMatmul } from '../../src/kernels/cpu/matmul.js';
import { kernelBackends, kernelFor } from '../../src/kernels/index.js';
import type { MatmulKernel } from '../../src/kernels/registry.js';
import { wasmMatmul } from '../../src/kernels/wasm/index.js';
import {
  WasmMatmul,
  relaxedSimdAllowed,
  wasmRelaxedSimdSupported,
  wasmSimdSupported,
} from '../../src/kernels/wasm/matmul.js';
import { type Ctor, compareToReference, singleCases, spec, values } from './matmul-check.js';

const TOL: Record<string, number> = { Float32Array: 1e-5, Float64Array: 1e-12 };
const DTYPES: Ctor[] = [Float32Array, Float64Array];

t.test('WebAssembly SIMD is available on this Node (>= 20), so the wasm backend is registered', async (t) => {
  t.ok(wasmSimdSupported());
  t.ok(wasmMatmul, 'wasm matmul instance built');
  t.ok(kernelBackends('matmul').includes('wasm'));
});

const backends = kernelBackends('matmul').filter((b) => b !== 'cpu');

for (const backend of backends) {
  const kernel = kernelFor('matmul', backend)!;

  t.test(`${backend}: odd sizes × all transpose combinations match the CPU reference`, async (t) => {
    for (const Ctor of DTYPES) {
      for (const c of singleCases(Ctor)) {
        const err = compareToReference(kernel, c.a, c.b, c.s);
        t.ok(err <= TOL[Ctor.name], `${Ctor.name} ${c.name}: error ${err.toExponential(2)}`);
      }
    }
  });

  t.test(`${backend}: batched products with broadcast and shifted offsets`, async (t) => {
    for (const Ctor of DTYPES) {
      for (const [tA, tB] of [
        [false, false],
        [true, true],
        [false, true],
        [true, false],
      ] as const) {
        const [m, n, k] = [7, 10, 6];
        // A holds 3 matrices after a 5-element lead-in; B holds 2 after 3. Offsets repeat (broadcast)
        // and go backwards, so a backend that caches "the last operand" must key on the offset.
        const a = values(Ctor, 5 + 3 * m * k, 100);
        const b = values(Ctor, 3 + 2 * k * n, 101);
        const aOff = [5, 5 + m * k, 5 + 2 * m * k, 5 + 2 * m * k, 5];
        const bOff = [3, 3, 3 + k * n, 3, 3 + k * n];
        const err = compareToReference(kernel, a, b, spec(m, n, k, tA, tB, aOff, bOff));
        t.ok(err <= TOL[Ctor.name], `${Ctor.name} transA=${tA} transB=${tB}: error ${err.toExponential(2)}`);
      }
    }
  });

  t.test(`${backend}: inputs that are views into larger buffers (zero-copy slices)`, async (t) => {
    const big = values(Float32Array, 1000, 7);
    const a = big.subarray(13, 13 + 9 * 11);
    const b = big.subarray(500, 500 + 11 * 6);
    const err = compareToReference(kernel, a, b, spec(9, 6, 11, false, true));
    t.ok(err <= 1e-5, `error ${err.toExponential(2)}`);
  });

  t.test(`${backend}: degenerate sizes`, async (t) => {
    for (const Ctor of DTYPES) {
      // k = 0: the empty sum, every element must become 0.
      const out = new Ctor(12).fill(NaN);
      kernel(new Ctor(0), new Ctor(0), out, spec(3, 4, 0, false, false));
      t.same([...out], new Array(12).fill(0), `${Ctor.name} k = 0 gives zeros`);
      // m = 0 or n = 0: nothing to write, nothing thrown.
      kernel(new Ctor(0), new Ctor(12), new Ctor(0), spec(0, 4, 3, false, false));
      kernel(new Ctor(6), new Ctor(0), new Ctor(0), spec(2, 0, 3, true, true));
      // Tile-sized and just past tile-sized edges.
      for (const [m, n, k] of [
        [4, 8, 1],
        [8, 16, 2],
        [3, 9, 1],
        [1, 17, 4],
        [33, 1, 7],
      ] as const) {
        for (const [tA, tB] of [
          [false, false],
          [true, true],
        ] as const) {
          const err = compareToReference(
            kernel,
            values(Ctor, m * k, m),
            values(Ctor, n * k, n),
            spec(m, n, k, tA, tB),
          );
          t.ok(
            err <= TOL[Ctor.name],
            `${Ctor.name} ${m}×${n}×${k} transA=${tA} transB=${tB}: ${err.toExponential(2)}`,
          );
        }
      }
    }
  });

  t.test(`${backend}: a large product, then small ones, do not see each other's data`, async (t) => {
    const big = { a: values(Float32Array, 129 * 65, 1), b: values(Float32Array, 65 * 257, 2) };
    t.ok(compareToReference(kernel, big.a, big.b, spec(129, 257, 65, true, false)) <= 1e-5);
    for (const Ctor of DTYPES) {
      const err = compareToReference(
        kernel,
        values(Ctor, 15, 3),
        values(Ctor, 35, 4),
        spec(5, 7, 3, false, true),
      );
      t.ok(err <= TOL[Ctor.name], `${Ctor.name} 5×7×3 after 129×257×65: ${err.toExponential(2)}`);
    }
  });
}

t.test(
  'wasm: a row bias added while copying out equals the kernel plus a bias pass, bit for bit',
  async (t) => {
    const w = new WasmMatmul();
    for (const Ctor of DTYPES) {
      // n = 10 and 13 leave padded columns (tile width 8 / 4); k = 0 is the empty product (C = bias).
      for (const [m, n, k, tA, tB, batch] of [
        [7, 10, 6, false, true, 1],
        [9, 13, 5, true, false, 3],
        [4, 8, 16, false, false, 2],
        [3, 5, 0, false, true, 1],
      ] as const) {
        const a = values(Ctor, batch * m * k, 7 + m);
        const b = values(Ctor, k * n, 8 + n);
        const bias = values(Ctor, n, 9 + k);
        const s = spec(
          m,
          n,
          k,
          tA,
          tB,
          Array.from({ length: batch }, (_, i) => i * m * k),
          new Array<number>(batch).fill(0),
        );
        const got = new Ctor(batch * m * n).fill(NaN);
        w.run(a, b, got, s, bias);
        const want = new Ctor(batch * m * n).fill(NaN);
        w.kernel(a, b, want, s);
        for (let i = 0; i < want.length; i++) want[i] += bias[i % n];
        let same = 0;
        let worst = 0;
        for (let i = 0; i < want.length; i++) {
          if (Object.is(got[i], want[i])) same++;
          // Against a float64 naive product plus bias, relative to the terms' scale.
          const [tt, r, c] = [Math.floor(i / (m * n)), Math.floor(i / n) % m, i % n];
          let sum = bias[c];
          let scale = Math.abs(bias[c]);
          for (let p = 0; p < k; p++) {
            const av = tA ? a[tt * m * k + p * m + r] : a[tt * m * k + r * k + p];
            const bv = tB ? b[c * k + p] : b[p * n + c];
            sum += av * bv;
            scale += Math.abs(av * bv);
          }
          const e = Math.abs(got[i] - sum) / Math.max(scale, 1e-30);
          worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
        }
        const label = `${Ctor.name} ${batch}×${m}×${n}×${k} transA=${tA} transB=${tB}`;
        t.equal(same, want.length, `${label}: every element equals kernel + bias`);
        t.ok(worst <= TOL[Ctor.name], `${label}: error ${worst.toExponential(2)} against float64`);
      }
    }
  },
);

t.test('wasm: correct even when its whole linear memory is poisoned with NaN beforehand', async (t) => {
  const w = new WasmMatmul();
  // Grow memory with a big product, then poison all of it: every value the kernel reads must have
  // been copied in (or zero-padded) by this call.
  w.kernel(
    values(Float32Array, 200 * 300, 1),
    values(Float32Array, 300 * 100, 2),
    new Float32Array(200 * 100),
    spec(200, 100, 300, false, false),
  );
  const poison = (): void => void new Float32Array(w.memory.buffer).fill(NaN);
  for (const Ctor of DTYPES) {
    for (const c of singleCases(Ctor)) {
      poison();
      const err = compareToReference(w.kernel, c.a, c.b, c.s);
      t.ok(err <= TOL[Ctor.name], `${Ctor.name} ${c.name}: ${err.toExponential(2)}`);
    }
  }
});

t.test('wasm: other tile shapes of the generator are correct too', async (t) => {
  for (const [f32Tile, f64Tile] of [
    [
      [1, 4],
      [1, 2],
    ],
    [
      [6, 8],
      [2, 8],
    ],
    [
      [3, 12],
      [5, 6],
    ],
  ] as [number, number][][]) {
    const w = new WasmMatmul({ f32Tile: f32Tile as [number, number], f64Tile: f64Tile as [number, number] });
    for (const Ctor of DTYPES) {
      for (const c of singleCases(Ctor)) {
        const err = compareToReference(w.kernel, c.a, c.b, c.s);
        t.ok(
          err <= TOL[Ctor.name],
          `tiles ${f32Tile}/${f64Tile} ${Ctor.name} ${c.name}: ${err.toExponential(2)}`,
        );
      }
    }
  }
});

t.test('wasm: the relaxed-SIMD (fused multiply-add) kernel matches the reference', async (t) => {
  if (!wasmRelaxedSimdSupported()) {
    t.pass('fused kernel check', { skip: 'no relaxed SIMD in this engine' });
    return;
  }
  const w = new WasmMatmul({ fused: true });
  t.ok(w.fused);
  for (const Ctor of DTYPES) {
    for (const c of singleCases(Ctor)) {
      const err = compareToReference(w.kernel, c.a, c.b, c.s);
      t.ok(err <= TOL[Ctor.name], `${Ctor.name} ${c.name}: ${err.toExponential(2)}`);
    }
  }
});

t.test(
  'wasm: the default kernel is fused where the hardware has FMA; fused: false rounds twice',
  async (t) => {
    // [-1, u]·[1, u] with u = 1 + 2⁻¹²: u² = 1 + 2⁻¹¹ + 2⁻²⁴ exactly. A multiply then an add rounds u²
    // to 1 + 2⁻¹¹ (a tie, to even) and returns 2⁻¹¹; one fused multiply-add keeps the 2⁻²⁴.
    const u = 1 + 2 ** -12;
    const product = (w: WasmMatmul): number => {
      const out = new Float32Array(1);
      w.kernel(new Float32Array([-1, u]), new Float32Array([1, u]), out, spec(1, 1, 2, false, false));
      return out[0];
    };
    t.equal(product(new WasmMatmul({ fused: false })), 2 ** -11, 'in-order product: multiply, round, add');
    const w = new WasmMatmul();
    t.equal(w.fused, wasmRelaxedSimdSupported(), 'fused by default wherever relaxed SIMD is available');
    let fma = false;
    try {
      fma = /^flags\s*:.*\bfma\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      // not Linux: the hardware question stays open
    }
    if (w.fused && fma) t.equal(product(w), 2 ** -11 + 2 ** -24, 'one rounding per multiply-add');
    else t.ok([2 ** -11, 2 ** -11 + 2 ** -24].includes(product(w)), `fused=${w.fused}, fma=${fma}`);
  },
);

t.test('HESSFLOW_RELAXED_SIMD=0 makes the default kernel multiply, then add (any Node)', async (t) => {
  const script = fileURLToPath(new URL('./matmul-check.ts', import.meta.url));
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, '--matmul-check-json'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, HESSFLOW_RELAXED_SIMD: '0' },
  });
  t.equal(run.status, 0, `child exited cleanly: ${run.stderr.slice(0, 500)}`);
  const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as { defaultFused: boolean };
  t.equal(result.defaultFused, false);
});

t.test('the harness fails kernels that are wrong by one element or skip one', async (t) => {
  for (const Ctor of DTYPES) {
    const a = values(Ctor, 17 * 9, 1);
    const b = values(Ctor, 9 * 33, 2);
    const s = spec(17, 33, 9, false, true);
    const off =
      (rel: number): MatmulKernel =>
      (x, y, out, sp) => {
        cpuMatmul(x, y, out, sp);
        out[200] += rel * (Math.abs(out[200]) + 1);
      };
    const skipLast: MatmulKernel = (x, y, out, sp) => {
      const full = new Ctor(out.length);
      cpuMatmul(x, y, full, sp);
      out.set(full.subarray(0, out.length - 1));
    };
    t.ok(compareToReference(cpuMatmul, a, b, s) === 0, `${Ctor.name}: the reference passes`);
    t.ok(
      compareToReference(off(TOL[Ctor.name] * 10), a, b, s) > TOL[Ctor.name],
      `${Ctor.name}: one element off by 10× the tolerance fails`,
    );
    t.equal(
      compareToReference(skipLast, a, b, s),
      Infinity,
      `${Ctor.name}: an unwritten (NaN-poisoned) element fails`,
    );
  }
});

t.test('HESSFLOW_RELAXED_SIMD: the accepted spellings, and a clear error for anything else', async (t) => {
  for (const v of [undefined, '', '1', 'on', 'TRUE', ' yes ']) t.equal(relaxedSimdAllowed(v), true, `${v}`);
  for (const v of ['0', 'off', 'False', 'no']) t.equal(relaxedSimdAllowed(v), false, v);
  t.throws(() => relaxedSimdAllowed('maybe'), /HESSFLOW_RELAXED_SIMD="maybe": use 0 .* or 1/);
});
