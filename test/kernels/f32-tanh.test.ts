/**
 * The float32 tanh ('unary' backend 'wasm-f32', src/kernels/wasm-f32/tanh.ts) against float64
 * Math.tanh: within the 2 ulps its header states on a sample of every float32 bit pattern and on the
 * 4096 floats either side of its branch point (0.625), of where tanh rounds to 1 (9.01) and of where
 * exp(2x) overflows (44.36); −0, NaN, ±Inf and subnormals as Math.tanh rounded to float32 gives them; every tail
 * length; the same bits twice; float64 arrays and the other ops (GELU included) the CPU reference's
 * own bits; the self-check rejecting a kernel 3 ulps off or losing −0; preferred in the default mode
 * and absent under HESSFLOW_KERNELS=exact.
 */
import t from 'tap';
import { cpuUnary } from '../../src/kernels/cpu/elementwise.js';
import { activeKernelBackend, kernelFor } from '../../src/kernels/index.js';
import type { UnaryKernel, UnaryOp } from '../../src/kernels/registry.js';
import { F32_BACKEND } from '../../src/kernels/wasm-f32/index.js';
import { F32Tanh, f32TanhSelfCheck } from '../../src/kernels/wasm-f32/tanh.js';
import { wasmSimdSupported } from '../../src/kernels/wasm/matmul.js';
import { backendsUnderMode } from '../helpers/kernel-mode.js';
import { normals } from '../helpers/random.js';

const skip = !wasmSimdSupported();

/** The float32 spacing at |y|: 2^(e − 23) for a normal y in [2^e, 2^(e+1)), 2^-149 below 2^-126. */
function ulp(y: number): number {
  const m = Math.abs(y);
  return m < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(m)) - 23);
}

/** The worst |got − tanh x| in ulps of tanh x, and where; NaN must match NaN. */
function worstUlps(x: Float32Array, got: Float32Array): { ulps: number; at: number } {
  let ulps = 0;
  let at = x.length > 0 ? x[0] : NaN;
  for (let i = 0; i < x.length; i++) {
    const want = Math.tanh(x[i]);
    const e = Number.isNaN(want)
      ? Number.isNaN(got[i])
        ? 0
        : Infinity
      : Math.abs(got[i] - want) / ulp(want);
    if (!(e <= ulps)) {
      ulps = Number.isNaN(e) ? Infinity : e;
      at = x[i];
    }
  }
  return { ulps, at };
}

/** 2·span + 1 consecutive float32s centred on the float32 nearest x > 0, and their negatives. */
function around(x: number, span: number): Float32Array {
  const base = new Uint32Array(Float32Array.of(x).buffer)[0];
  const bits = Uint32Array.from(
    { length: 4 * span + 2 },
    (_, i) => (base - span + (i >> 1)) | (i & 1 ? 0x80000000 : 0),
  );
  return new Float32Array(bits.buffer);
}

const run = (k: UnaryKernel, x: Float32Array): Float32Array => {
  const out = new Float32Array(x.length).fill(NaN);
  k(x, out, 0);
  return out;
};

t.test('within 2 ulps of float64 tanh: a sample of every float32, and each boundary', { skip }, async (t) => {
  const k = new F32Tanh().tanh;
  // Every 1021st bit pattern of each sign: 4.2 million values, all exponents.
  const stride = 1021;
  const count = Math.floor(0x7f800000 / stride) + 1;
  const bits = Uint32Array.from({ length: count }, (_, i) => i * stride);
  for (const sign of [0, 0x80000000]) {
    const x = new Float32Array(bits.map((b) => b | sign).buffer);
    const w = worstUlps(x, run(k, x));
    t.ok(
      w.ulps <= 2,
      `${sign ? 'negative' : 'positive'}: ${count} values, worst ${w.ulps.toFixed(3)} ulps at ${w.at}`,
    );
  }
  for (const [label, x0] of [
    ['the polynomial/exponential switch', 0.625],
    ['where tanh rounds to 1', 9.0109],
    ['where exp(2x) overflows', 44.3614],
    ['a boundary of exp’s range reduction (2x = 2.5 ln 2)', 1.25 * Math.LN2],
  ] as const) {
    const x = around(x0, 4096);
    const w = worstUlps(x, run(k, x));
    t.ok(w.ulps <= 2, `around ${label} (${x0}): worst ${w.ulps.toFixed(3)} ulps at ${w.at}`);
  }
  // The MLP's activations: pre-activations of a few units, worst within a realistic range.
  const x = Float32Array.from(normals(100003, 1, 'tanh-act'), (v) => 3 * v);
  t.ok(worstUlps(x, run(k, x)).ulps <= 2, 'normal(0, 3) activations');
});

t.test('special values and every tail length', { skip }, async (t) => {
  const k = new F32Tanh().tanh;
  const x = Float32Array.from([
    0,
    -0,
    NaN,
    Infinity,
    -Infinity,
    1e-45,
    -1e-45,
    -2e-39,
    3e38,
    -20,
    9.5,
    0.625,
    -0.3,
  ]);
  const got = run(k, x);
  t.ok(Object.is(got[0], 0) && Object.is(got[1], -0), 'tanh(±0) = ±0');
  t.ok(Number.isNaN(got[2]), 'tanh(NaN) = NaN');
  t.same([got[3], got[4]], [1, -1], 'tanh(±Inf) = ±1');
  t.same([got[5], got[6], got[7]], [x[5], x[6], x[7]], 'subnormals come back unchanged (not flushed)');
  t.same([got[8], got[9], got[10]], [1, -1, 1], 'saturated to ±1');
  // Each length 0..9 against the same values computed one at a time (groups of four, tails of 1..3).
  const y = Float32Array.from(normals(9, 2, 'tanh-tail'), (v) => 2 * v);
  const single = Float32Array.from(y, (v) => run(k, Float32Array.of(v))[0]);
  for (let n = 0; n <= 9; n++) {
    const out = run(k, y.subarray(0, n));
    t.same([...out], [...single.subarray(0, n)], `length ${n}`);
    t.ok(worstUlps(y.subarray(0, n), out).ulps <= 2, `length ${n}: within 2 ulps`);
  }
  // An input view at an odd element offset.
  const view = x.subarray(3, 11);
  t.same([...run(k, view)], [...got.subarray(3, 11)], 'a view at element offset 3');
});

t.test('deterministic; float64 arrays and the other ops are the CPU reference', { skip }, async (t) => {
  const tanh = new F32Tanh();
  const x = Float32Array.from(normals(5003, 3, 'tanh-det'), (v) => 4 * v);
  const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer);
  t.same(bits(run(tanh.tanh, x)), bits(run(tanh.tanh, x)), 'same bits twice');
  const x64 = Float64Array.from(x, (v) => v / 3);
  const [a, b] = [new Float64Array(x.length), new Float64Array(x.length)];
  tanh.unary('tanh')(x64, a, 0);
  cpuUnary('tanh')(x64, b, 0);
  t.same(a, b, 'float64 tanh: the CPU reference (Math.tanh)');
  for (const op of ['gelu', 'exp', 'neg', 'log'] as UnaryOp[]) {
    const [got, want] = [new Float32Array(x.length), new Float32Array(x.length)];
    tanh.unary(op)(x, got, 0);
    cpuUnary(op)(x, want, 0);
    t.same(bits(got), bits(want), `${op}: the CPU reference's bits`);
  }
});

t.test('the self-check passes the kernel and rejects a wrong one', { skip }, async (t) => {
  const tanh = new F32Tanh();
  t.ok(f32TanhSelfCheck(tanh.unary), 'the kernel passes');
  const wrapped =
    (f: (x: Float32Array, out: Float32Array) => void) =>
    (op: UnaryOp): UnaryKernel =>
      op === 'tanh'
        ? (x, out, p) => (tanh.tanh(x, out, p), f(x as Float32Array, out as Float32Array))
        : cpuUnary(op);
  t.notOk(
    f32TanhSelfCheck(wrapped((_, out) => out.forEach((v, i) => (out[i] = v * (1 + 3 * 2 ** -23))))),
    '3 ulps off: rejected',
  );
  t.notOk(
    f32TanhSelfCheck(wrapped((_, out) => out.forEach((v, i) => (out[i] = v + 0)))),
    '−0 lost: rejected',
  );
  t.notOk(
    f32TanhSelfCheck((op) => (op === 'gelu' ? cpuUnary('tanh') : tanh.unary(op))),
    'an op other than tanh not the reference: rejected',
  );
});

t.test('preferred by default; HESSFLOW_KERNELS=exact leaves it unregistered', { skip }, async (t) => {
  t.equal(activeKernelBackend('unary'), F32_BACKEND, 'the default backend');
  t.ok(kernelFor('unary', 'wasm'), 'the exact backend stays registered');
  t.same(
    backendsUnderMode('unary', 'exact'),
    { backends: ['cpu', 'wasm'], active: 'wasm' },
    'exact mode: cpu and wasm only',
  );
});
