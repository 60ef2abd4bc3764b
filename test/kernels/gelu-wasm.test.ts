/**
 * The WebAssembly GELU kernels: the forward that saves its exponentials ('geluExp') and the backward
 * from them ('geluVjp'). Each is bit for bit the CPU reference over a sweep of inputs out to both
 * tails (odd and even lengths, NaN and ±Infinity), within float32 rounding of GELU and GELU′ written
 * here with tanh, cosh and Math.exp, and hands float64 (and a VJP without saved exponentials) to the
 * CPU reference; outputs poisoned with NaN. The registration self-checks must reject a kernel that is
 * off in one element.
 */
import t from 'tap';
import { cpuGeluExp, cpuGeluVjp } from '../../src/kernels/cpu/gelu.js';
import type { GeluExpKernel, GeluVjpKernel } from '../../src/kernels/registry.js';
import { geluExpSelfCheck, geluVjpSelfCheck } from '../../src/kernels/wasm/exact-checks.js';
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

t.test('forward: outputs and saved exponentials are the CPU reference bit for bit', async (t) => {
  const w = new WasmGelu();
  for (const n of [1, 2, 5, 4096, 20001]) {
    // A sweep over [−150, 150] (past both clamps of the exponential) plus random values.
    const sweep = Math.min(n, 2001);
    const x = Float32Array.from({ length: n }, (_, i) => (i < sweep ? -150 + (300 * i) / sweep : 0));
    if (n > sweep)
      x.set(
        Float32Array.from(normals(n - sweep, 7, `gelu-fwd-${n}`), (v) => 3 * v),
        sweep,
      );
    if (n > 8) x.set([NaN, Infinity, -Infinity, -0, 2 ** -140], 3);
    const got = new Float32Array(n).fill(NaN);
    const gotE = new Float64Array(n).fill(NaN);
    const want = new Float32Array(n).fill(NaN);
    const wantE = new Float64Array(n).fill(NaN);
    w.geluExp(x, got, gotE);
    cpuGeluExp(x, want, wantE);
    let bad = 0;
    let worst = 0;
    let worstE = 0;
    for (let i = 0; i < n; i++) {
      if (!Object.is(got[i], want[i]) || !Object.is(gotE[i], wantE[i])) bad++;
      if (!Number.isFinite(x[i])) continue;
      const u = C * (x[i] + 0.044715 * x[i] ** 3);
      const ref = 0.5 * x[i] * (1 + Math.tanh(u));
      worst = Math.max(worst, Math.abs(got[i] - ref) / Math.max(1, Math.abs(ref)));
      const refE = Math.exp(Math.min(89, Math.max(-104, -2 * u)));
      worstE = Math.max(worstE, Math.abs(gotE[i] - refE) / refE);
    }
    t.equal(bad, 0, `n = ${n}: every element and exponential equals the CPU reference`);
    t.ok(worst < 2e-7, `n = ${n}: within float32 rounding of GELU (${worst.toExponential(2)})`);
    t.ok(worstE < 1e-10, `n = ${n}: e within 1e-10 of Math.exp (${worstE.toExponential(2)})`);
  }
  const x64 = Float64Array.from(normals(33, 8, 'gelu-fwd-64'));
  const got64 = new Float64Array(33).fill(NaN);
  const want64 = new Float64Array(33).fill(NaN);
  const [e1, e2] = [new Float64Array(33), new Float64Array(33)];
  w.geluExp(x64, got64, e1);
  cpuGeluExp(x64, want64, e2);
  t.ok(
    got64.every((v, i) => Object.is(v, want64[i]) && Object.is(e1[i], e2[i])),
    'float64 goes to the CPU reference',
  );
});

t.test('the forward self-check passes the wasm kernel and rejects one off in a single element', async (t) => {
  const w = new WasmGelu();
  t.ok(geluExpSelfCheck(w.geluExp));
  const wrongOut: GeluExpKernel = (x, out, e) => {
    w.geluExp(x, out, e);
    if (out.length > 5) out[5] = Math.fround(out[5] * (1 + 2 ** -20) + 2 ** -40);
  };
  t.notOk(geluExpSelfCheck(wrongOut));
  const wrongE: GeluExpKernel = (x, out, e) => {
    w.geluExp(x, out, e);
    if (e.length > 5) e[5] *= 1 + 2 ** -50;
  };
  t.notOk(geluExpSelfCheck(wrongE));
});
