/**
 * The float32 GELU kernels ('wasm-f32' backends of 'geluExp' and 'geluVjp'): within their stated
 * bounds of GELU, GELU′ and e = exp(−2u) written here independently in float64 (tanh and cosh), over
 * a dense sweep, random values and both tails; every length's tail (0, 1, 3, …, past a chunk) the
 * same bits as one long call, and nothing written outside `out`/`e`; NaN and ±Infinity; the same
 * bits on a second run and with or without the saved exponentials; float64 to the CPU reference; a
 * clear error on short inputs; registered and preferred in 'fast' mode, not registered with
 * HESSFLOW_KERNELS=exact; the self-check rejects a kernel off by a few float32 ulps.
 */
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { activeKernelBackend, kernelBackends, kernelFor } from '../../src/kernels/index.js';
import { cpuGeluExp, cpuGeluVjp } from '../../src/kernels/cpu/gelu.js';
import type { GeluExpKernel } from '../../src/kernels/registry.js';
import { CHUNK, WasmF32Gelu } from '../../src/kernels/wasm-f32/gelu.js';
import {
  GELU_E_F32_TOL,
  GELU_F32_TOL,
  GELU_VJP_F32_TOL,
  geluF32SelfCheck,
} from '../../src/kernels/wasm-f32/gelu-check.js';
import { F32_BACKEND } from '../../src/kernels/wasm-f32/index.js';
import { normals } from '../helpers/random.js';

const C = Math.sqrt(2 / Math.PI);
const A = 0.044715;
const u = (x: number): number => C * (x + A * x ** 3);
/** GELU through tanh, the tail through its asymptote x·e^{2u}/(1 + e^{2u}) where 1 + tanh cancels. */
const gelu = (x: number): number =>
  u(x) < -5 ? x / (1 + Math.exp(-2 * u(x))) : 0.5 * x * (1 + Math.tanh(u(x)));
/** GELU′ through tanh and cosh (0 where cosh² overflows: σ is 0 there). */
const geluPrime = (x: number): number => {
  const ch = Math.cosh(u(x));
  const tail = ch === Infinity ? 0 : (0.5 * x * C * (1 + 3 * A * x * x)) / (ch * ch);
  return 0.5 * (1 + Math.tanh(u(x))) + tail;
};

const w = new WasmF32Gelu();

function forward(x: Float32Array): { out: Float32Array; e: Float64Array } {
  const out = new Float32Array(x.length).fill(NaN);
  const e = new Float64Array(x.length).fill(NaN);
  w.geluExp(x, out, e);
  return { out, e };
}

function vjp(x: Float32Array, g: Float32Array, e?: Float64Array): Float32Array {
  const out = new Float32Array(x.length).fill(NaN);
  w.geluVjp(x, g, out, e);
  return out;
}

t.test('GELU, GELU′ and e within the stated bounds of the float64 formulas', async (t) => {
  const xs: number[] = [];
  for (let v = -12; v <= 12; v += 0.00037) xs.push(v);
  xs.push(...Array.from(normals(20000, 1, 'f32-gelu'), (v) => 3 * v));
  xs.push(
    -1e4,
    -300,
    -50,
    -20,
    -10.5,
    -10.07,
    -10,
    -9.5,
    9.5,
    10,
    20,
    50,
    1e4,
    1e-30,
    -1e-30,
    1e-8,
    2 ** -140,
  );
  const x = Float32Array.from(xs);
  const g = Float32Array.from(xs, (_, i) => Math.cos(i));
  const { out, e } = forward(x);
  const d = vjp(x, g, e);
  let [worst, worstG, worstE] = [0, 0, 0];
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const want = gelu(v);
    worst = Math.max(worst, Math.abs(out[i] - want) / Math.max(1, Math.abs(want)));
    const wantG = g[i] * geluPrime(v);
    worstG = Math.max(worstG, Math.abs(d[i] - wantG) / Math.max(1, Math.abs(wantG)));
    const wantE = Math.exp(-2 * u(v));
    if (wantE >= 2 ** -126 && wantE < 3.4e38)
      worstE = Math.max(worstE, Math.abs(e[i] - wantE) / wantE / (3 + 2 * Math.abs(u(v))));
    else if (wantE >= 3.4e38) t.ok(e[i] >= 3.4e38, `x = ${v}: e overflows to ${e[i]}`);
    else t.ok(e[i] >= 0 && e[i] < 2 ** -126, `x = ${v}: e underflows to ${e[i]}`);
  }
  t.ok(worst <= GELU_F32_TOL, `GELU: worst error ${worst.toExponential(2)} ≤ ${GELU_F32_TOL}`);
  t.ok(worstG <= GELU_VJP_F32_TOL, `g·GELU′: worst error ${worstG.toExponential(2)} ≤ ${GELU_VJP_F32_TOL}`);
  t.ok(worstE <= GELU_E_F32_TOL, `e: worst ${worstE.toExponential(2)} per (3 + |y|) ≤ ${GELU_E_F32_TOL}`);
  // Typical activations are far inside the bounds: float32 rounding of a few operations.
  t.ok(
    worst < 2e-7 && worstG < 3e-7,
    `a few float32 ulps (${worst.toExponential(2)}, ${worstG.toExponential(2)})`,
  );
});

t.test('every length: the same bits as one long call, nothing written outside the views', async (t) => {
  const n = 2 * CHUNK + 37;
  const x = Float32Array.from(normals(n, 2, 'f32-gelu-len'), (v) => 4 * v);
  const g = Float32Array.from(normals(n, 3, 'f32-gelu-len'));
  const whole = forward(x);
  const wholeD = vjp(x, g, whole.e);
  for (const len of [0, 1, 2, 3, 4, 5, 15, 16, 17, 31, CHUNK - 1, CHUNK, CHUNK + 1, n - 3]) {
    for (const start of [0, 1, 3]) {
      const xs = x.subarray(start, start + len);
      // Views into larger arrays with sentinels on both sides.
      const outBuf = new Float32Array(len + 2).fill(7);
      const eBuf = new Float64Array(len + 2).fill(7);
      const dBuf = new Float32Array(len + 2).fill(7);
      w.geluExp(xs, outBuf.subarray(1, len + 1), eBuf.subarray(1, len + 1));
      w.geluVjp(xs, g.subarray(start, start + len), dBuf.subarray(1, len + 1), eBuf.subarray(1, len + 1));
      let same = true;
      for (let i = 0; i < len; i++)
        same &&=
          Object.is(outBuf[i + 1], whole.out[start + i]) &&
          Object.is(eBuf[i + 1], whole.e[start + i]) &&
          Object.is(dBuf[i + 1], wholeD[start + i]);
      t.ok(same, `length ${len} from ${start}: the long call's bits`);
      const untouched = [outBuf, eBuf, dBuf].every((b) => b[0] === 7 && b[len + 1] === 7);
      t.ok(untouched, `length ${len} from ${start}: sentinels untouched`);
    }
  }
});

t.test('NaN, ±Infinity, ±0 and the overflowing tails', async (t) => {
  const x = Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 20, -20, 1e30, -1e30]);
  const g = Float32Array.from([1, 1, 1, 1, 1, 0.5, 0.5, -2, -2]);
  const { out, e } = forward(x);
  const d = vjp(x, g, e);
  t.same([...out].map(String), ['NaN', 'Infinity', '0', '0', '0', '20', '0', String(x[7]), '0']);
  t.ok(
    Object.is(out[2], -0) && Object.is(out[4], -0) && Object.is(out[6], -0),
    'GELU(−∞), GELU(−0), GELU(−20) are −0',
  );
  t.same([...e].map(String), ['NaN', '0', 'Infinity', '1', '1', '0', 'Infinity', '0', 'Infinity']);
  t.same([...d].map(String), ['NaN', '1', '0', '0.5', '0.5', '0.5', '0', '-2', '0']);
  t.same([...vjp(x, g)].map(String), [...d].map(String), 'the same without the saved exponentials');
});

t.test('deterministic: the same bits twice, with and without the saved exponentials', async (t) => {
  const n = 5003;
  const x = Float32Array.from(normals(n, 4, 'f32-gelu-det'), (v) => 5 * v);
  const g = Float32Array.from(normals(n, 5, 'f32-gelu-det'));
  const a = forward(x);
  const b = forward(x);
  t.ok(
    a.out.every((v, i) => Object.is(v, b.out[i]) && Object.is(a.e[i], b.e[i])),
    'forward twice',
  );
  const d1 = vjp(x, g, a.e);
  const d2 = vjp(x, g);
  t.ok(
    d1.every((v, i) => Object.is(v, d2[i])),
    'VJP with e = VJP without',
  );
  // e is the float32 exponential widened: exactly representable in float32.
  t.ok(
    a.e.every((v) => Object.is(Math.fround(v), v)),
    'saved e are float32 values',
  );
});

t.test('float64 goes to the CPU reference; short inputs are an error that writes nothing', async (t) => {
  const x = Float64Array.from(normals(33, 6, 'f32-gelu-64'));
  const g = Float64Array.from(normals(33, 7, 'f32-gelu-64'));
  const [o1, o2, e1, e2, d1, d2] = [0, 0, 0, 0, 0, 0].map(() => new Float64Array(33));
  w.geluExp(x, o1, e1);
  cpuGeluExp(x, o2, e2);
  w.geluVjp(x, g, d1);
  cpuGeluVjp(x, g, d2);
  t.ok(o1.every((v, i) => Object.is(v, o2[i]) && Object.is(e1[i], e2[i]) && Object.is(d1[i], d2[i])));
  const out = new Float32Array(8).fill(3);
  const e = new Float64Array(8).fill(3);
  t.throws(() => w.geluExp(new Float32Array(5), out, e), /geluExp: out has 8 elements but x has 5/);
  t.throws(() => w.geluExp(new Float32Array(8), out, new Float64Array(4)), /but e has 4/);
  t.throws(
    () => w.geluVjp(new Float32Array(8), new Float32Array(2), out),
    /geluVjp: out has 8 elements but g has 2/,
  );
  t.ok(out.every((v) => v === 3) && e.every((v) => v === 3), 'nothing written');
});

t.test('the self-check passes these kernels and rejects one a few ulps off', async (t) => {
  t.ok(geluF32SelfCheck(w.geluExp, w.geluVjp));
  const off: GeluExpKernel = (x, out, e) => {
    w.geluExp(x, out, e);
    if (out.length > 3) out[3] = Math.fround(out[3] + 1e-6 * Math.max(1, Math.abs(out[3])));
  };
  t.notOk(geluF32SelfCheck(off, w.geluVjp), 'GELU off by 1e-6·max(|GELU|, 1) in one element');
  t.notOk(
    geluF32SelfCheck(w.geluExp, (x, g, out, e) => {
      w.geluVjp(x, g, out, e);
      if (e && out.length > 3) out[3] = Math.fround(out[3] * (1 + 2e-6));
    }),
    'VJP with e differing from without',
  );
});

t.test("registered and preferred in 'fast' mode; HESSFLOW_KERNELS=exact leaves it out", async (t) => {
  for (const name of ['geluExp', 'geluVjp'] as const) {
    t.ok(kernelBackends(name).includes(F32_BACKEND), `${name} has ${F32_BACKEND}`);
    t.equal(activeKernelBackend(name), F32_BACKEND, `${name} prefers it`);
    t.ok(kernelFor(name, 'wasm'), `${name} keeps the exact wasm backend`);
  }
  const script =
    "import('./src/kernels/index.ts').then((k) => console.log(JSON.stringify(" +
    "['geluExp', 'geluVjp'].map((n) => [k.kernelBackends(n), k.activeKernelBackend(n)]))))";
  const exact = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
    env: { ...process.env, HESSFLOW_KERNELS: 'exact' },
    encoding: 'utf8',
  });
  t.same(JSON.parse(exact), [
    [['cpu', 'wasm'], 'wasm'],
    [['cpu', 'wasm'], 'wasm'],
  ]);
});
