/**
 * The WebAssembly GELU backward (the 'geluVjp' kernel's wasm backend, used when the forward saved its
 * exponentials): bit for bit the CPU reference over a sweep of inputs out to both tails, within
 * float32 rounding of GELU′ written here with tanh and cosh, and handing a call without saved
 * exponentials (or float64) to the CPU reference; outputs poisoned with NaN. The registration
 * self-check must reject a kernel that is off in one element.
 */
import t from 'tap';
import { cpuGeluExp, cpuGeluVjp } from '../../src/kernels/cpu/gelu.js';
import type { GeluVjpKernel } from '../../src/kernels/registry.js';
import { geluVjpSelfCheck } from '../../src/kernels/wasm/exact-checks.js';
import { WasmGelu } from '../../src/kernels/wasm/gelu.js';
import { normals } from '../helpers/random.js';

const C = Math.sqrt(2 / Math.PI);
/** GELU′ of the tanh form, through tanh and cosh (independent of the kernels' exponential). */
const geluPrime = (x: number): number => {
  const u = C * (x + 0.044715 * x ** 3);
  return 0.5 * (1 + Math.tanh(u)) + (0.5 * x * C * (1 + 0.134145 * x * x)) / Math.cosh(u) ** 2;
};

t.test('with saved exponentials: the CPU reference bit for bit, GELU′ to float32 rounding', async (t) => {
  const w = new WasmGelu();
  const n = 20001;
  // A sweep over [−30, 30] plus random values.
  const x = Float32Array.from({ length: n }, (_, i) => (i < 10001 ? -30 + (60 * i) / 10000 : 0));
  x.set(
    Float32Array.from(normals(n - 10001, 3, 'gelu-wasm'), (v) => 3 * v),
    10001,
  );
  const g = Float32Array.from(normals(n, 4, 'gelu-wasm-g'));
  const e = new Float64Array(n);
  cpuGeluExp(x, new Float32Array(n), e);
  const got = new Float32Array(n).fill(NaN);
  const want = new Float32Array(n).fill(NaN);
  w.geluVjp(x, g, got, e);
  cpuGeluVjp(x, g, want, e);
  let bad = 0;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    if (!Object.is(got[i], want[i])) bad++;
    const ref = g[i] * geluPrime(x[i]);
    worst = Math.max(worst, Math.abs(got[i] - ref) / Math.max(1, Math.abs(ref)));
  }
  t.equal(bad, 0, 'every element equals the CPU reference');
  t.ok(worst < 2e-7, `within float32 rounding of GELU′ (${worst.toExponential(2)})`);
});

t.test('without saved exponentials, or in float64, the CPU reference runs', async (t) => {
  const w = new WasmGelu();
  const x = Float32Array.from(normals(50, 5, 'gelu-fallback'));
  const g = Float32Array.from(normals(50, 6, 'gelu-fallback'));
  const got = new Float32Array(50).fill(NaN);
  const want = new Float32Array(50).fill(NaN);
  w.geluVjp(x, g, got);
  cpuGeluVjp(x, g, want);
  t.ok(
    got.every((v, i) => Object.is(v, want[i])),
    'float32 without e',
  );
  const x64 = Float64Array.from(x);
  const got64 = new Float64Array(50).fill(NaN);
  const want64 = new Float64Array(50).fill(NaN);
  w.geluVjp(x64, Float64Array.from(g), got64, new Float64Array(50));
  cpuGeluVjp(x64, Float64Array.from(g), want64);
  t.ok(
    got64.every((v, i) => Object.is(v, want64[i])),
    'float64',
  );
});

t.test('the self-check passes the wasm kernel and rejects one off in a single element', async (t) => {
  const w = new WasmGelu();
  t.ok(geluVjpSelfCheck(w.geluVjp));
  const wrong: GeluVjpKernel = (x, g, out, e) => {
    w.geluVjp(x, g, out, e);
    if (out.length > 3) out[3] = Math.fround(out[3] * (1 + 2 ** -20) + 2 ** -40);
  };
  t.notOk(geluVjpSelfCheck(wrong));
});
