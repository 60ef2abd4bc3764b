/**
 * The wasm tanh ('unary' backend 'wasm') against the CPU reference (Math.tanh rounded to float32) bit
 * for bit: a sample of every float32 bit pattern (every 4093rd, both signs), the 2048 floats on either
 * side of each of fdlibm's branch points (tanh's 2^-28, 1 and 22; expm1's ½ln2 and 1.5 ln2 reduction
 * bounds and the k = −1/−2, 19/20 and 56/57 boundaries, at x = X/2), special values, odd lengths and
 * unaligned views, NaN-poisoned outputs. Also: float64 arrays and the other unary ops are the CPU
 * reference's own results, and the backend is the default where WebAssembly SIMD exists.
 */
import t, { type Test } from 'tap';
import { cpuUnary } from '../../src/kernels/cpu/elementwise.js';
import { activeKernelBackend, kernelBackends, kernelFor } from '../../src/kernels/index.js';
import { F32_BACKEND } from '../../src/kernels/wasm-f32/index.js';
import { wasmSimdSupported } from '../../src/kernels/wasm/matmul.js';
import { WasmTanh } from '../../src/kernels/wasm/tanh.js';

const LN2 = Math.LN2;

/** Indices of the first elements whose float32 bits differ (NaN matches any NaN). */
function differences(got: Float32Array, want: Float32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < want.length && out.length < 5; i++) if (!Object.is(got[i], want[i])) out.push(i);
  return out;
}

function check(t: Test, w: WasmTanh, x: Float32Array, label: string): void {
  const want = new Float32Array(x.length);
  const got = new Float32Array(x.length).fill(NaN);
  cpuUnary('tanh')(x, want, 0);
  w.tanh(x, got, 0);
  const bad = differences(got, want);
  t.same(
    bad.map((i) => [x[i], got[i], want[i]]),
    [],
    `${label}: ${x.length} values${bad.length ? ' (x, wasm, reference)' : ''}`,
  );
}

/** 2·span + 1 consecutive float32s centred on the float32 nearest `x` (positive x). */
function around(x: number, span: number): Float32Array {
  const f = new Float32Array([x]);
  const base = new Uint32Array(f.buffer)[0];
  const bits = Uint32Array.from({ length: 2 * span + 1 }, (_, i) => base - span + i);
  return new Float32Array(bits.buffer);
}

t.test('wasm tanh is the CPU reference bit for bit', { skip: !wasmSimdSupported() }, async (t) => {
  const w = new WasmTanh();
  // Every 4093rd bit pattern (4093 is prime, so the low bits vary too), then the same negated.
  const step = 4093;
  const bits = Uint32Array.from({ length: Math.ceil(2 ** 32 / step) }, (_, i) => (i * step) >>> 0);
  check(t, w, new Float32Array(bits.buffer), 'sampled bit patterns');
  // Branch points in x: tanh's own, and expm1's on X = ±2x.
  const points = [2 ** -28, 1, 22, (0.5 * LN2) / 2, (1.5 * LN2) / 2, (2.5 * LN2) / 2];
  for (const k of [19.5, 20.5, 55.5, 56.5]) points.push((k * LN2) / 2);
  for (const p of points) {
    const x = around(p, 2048);
    check(t, w, x, `around ${p}`);
    check(
      t,
      w,
      x.map((v) => -v),
      `around ${-p}`,
    );
  }
  check(
    t,
    w,
    Float32Array.from([0, -0, NaN, Infinity, -Infinity, 2 ** -149, -(2 ** -149), 3.4e38]),
    'specials',
  );
  // Odd lengths and views at odd offsets: the kernel reads and writes whole pairs.
  const data = Float32Array.from({ length: 41 }, (_, i) => (i - 20) / 7);
  for (const [from, to] of [
    [0, 1],
    [1, 4],
    [3, 40],
    [0, 41],
  ])
    check(t, w, data.subarray(from, to), `view [${from}, ${to})`);
});

t.test('other ops and float64 arrays are the CPU reference’s', { skip: !wasmSimdSupported() }, async (t) => {
  const w = new WasmTanh();
  const x64 = Float64Array.from({ length: 9 }, (_, i) => (i - 4) / 3);
  const got64 = new Float64Array(9);
  w.tanh(x64, got64, 0);
  t.same(Array.from(got64), Array.from(x64, Math.tanh), 'float64 tanh is Math.tanh');
  const x = Float32Array.from({ length: 9 }, (_, i) => (i + 1) / 3);
  for (const op of ['neg', 'log', 'sqrt', 'sigmoid', 'gelu'] as const) {
    const want = new Float32Array(9);
    const got = new Float32Array(9).fill(NaN);
    cpuUnary(op)(x, want, 0);
    w.unary(op)(x, got, 0);
    t.same(Array.from(got), Array.from(want), op);
  }
});

t.test('the wasm unary backend is registered and preferred', { skip: !wasmSimdSupported() }, async (t) => {
  t.ok(kernelFor('unary', 'wasm'), 'registered');
  // The default in exact mode; in the default 'fast' mode the float32 tanh (wasm-f32/tanh.ts) is.
  const want = kernelBackends('unary').includes(F32_BACKEND) ? F32_BACKEND : 'wasm';
  t.equal(activeKernelBackend('unary'), want, `its self-check passed: ${want} is the default`);
});
