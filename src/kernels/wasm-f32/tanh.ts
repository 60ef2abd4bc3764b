/**
 * Float32 tanh over four lanes: the 'unary' kernel's 'wasm-f32' backend, whose own op is tanh (every
 * other op, and float64 arrays, go to the CPU reference, as the exact 'wasm' backend hands them on —
 * GELU included, so fused.ts keeps its saved exponentials). Cephes' tanhf, as PyTorch's vectorised
 * CPU kernels compute it, in float32 lane arithmetic on a = |x|, the sign copied back last:
 * - a < 0.625: a + (P(a²)·a²)·a, Cephes' degree-4 odd polynomial P;
 * - else 1 − 2/(exp(2·min(a, 10)) + 1), with exp Cephes' expf on [1.25, 20]: n = round(y·log₂e),
 *   r = y − n·C1 − n·C2 (ln 2 in two parts, n·C1 exact), 1 + r + r²·Q(r), times 2^n built in the
 *   exponent bits. On that range n is 2..29, so no overflow or underflow handling is needed; beyond
 *   a = 9.01 tanh rounds to ±1 in float32, which 10's value also does.
 * −0 stays −0 (the polynomial's a + …·a keeps a's +0, the sign is then x's), NaN stays NaN (min and
 * the arithmetic propagate it), ±Inf gives ±1, subnormals come back unchanged (as tanh x = x there).
 *
 * Error against float64 Math.tanh, in float32 ulps of tanh x: stated bound 2, measured worst 1.33
 * (at x = 0.6283, just above the switch to the exponential, where 1 − 2/(e + 1) loses a bit to
 * cancellation; NaN for every NaN input) over every non-negative float32 (bench/f32-tanh-exhaustive.ts, run by hand: the
 * negative half mirrors it bit for bit) and in test/kernels/f32-tanh.test.ts (a sample of every
 * float32, ±4096 floats around each boundary). Against the CPU reference (Math.tanh rounded to
 * float32, within ½ ulp) that is under 2 ulps, far inside the kernels' 1e-5 relative tolerance.
 * Speed (bench/kernel-times.ts --mlp, the MLP's [128, 256] activations, 2-vCPU EPYC at load ~12):
 * 120–130 µs per call against the exact backend's 490–515 µs, about 4×.
 */
import { cpuUnary } from '../cpu/elementwise.js';
import type { UnaryKernel, UnaryOp } from '../registry.js';
import { FunctionBuilder, assembleModule } from '../wasm/assembler.js';
import { type WasmMemory, instantiate, validates } from '../wasm/api.js';
import { WasmKernelHost } from '../wasm/kernel-host.js';
import { F32x4Constants, f32x4 } from './f32x4-ops.js';
import { f32KernelsEnabled, registerF32Kernel } from './register.js';

type TanhFn = (x: number, out: number, bytes: number) => void;

const V128 = { align: 4, offset: 0 };
/** Cephes tanhf's odd polynomial on |x| < 0.625, highest degree first (tanh a = a + P(a²)·a²·a). */
const P = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1];
/** Cephes expf's polynomial, highest degree first (exp r = 1 + r + Q(r)·r²). */
const Q = [
  1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
];
/** ln 2 = C1 + C2, C1 with 9 significant bits so that n·C1 is exact for n < 2^15. */
const C1 = 0.693359375;
const C2 = -2.1219444e-4;
const SMALL = 0.625;
const CLAMP = 10;

/** tanh(x, out, bytes): out = tanh(x) four float32s at a time over `bytes` (a multiple of 16, ≥ 16). */
function buildTanh(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32']);
  const [x, out, bytes] = [0, 1, 2];
  const i = f.local('i32');
  const [v, a, s, y, n] = Array.from({ length: 5 }, () => f.local('v128'));
  const c = new F32x4Constants(f);
  const k = (value: number): number => c.get(value);
  for (const value of [...P, ...Q, C1, C2, Math.LOG2E, SMALL, CLAMP, 1, 2, -0]) k(value);
  /** Horner's rule over `coefficients` in the variable held in local `t`; leaves the value on the stack. */
  const horner = (coefficients: readonly number[], t: number): void => {
    f.get(k(coefficients[0]));
    for (const co of coefficients.slice(1)) f.get(t).simd('f32x4.mul').get(k(co)).simd('f32x4.add');
  };
  f.i32(0).set(i);
  f.loop(() => {
    f.get(out).get(i).add(); // store address, under the result
    f.get(x).get(i).add().simd('v128.load', V128).tee(v);
    f32x4(f, 'abs');
    f.set(a);
    // The small branch: a + (P(s)·s)·a, s = a².
    f.get(a).get(a).simd('f32x4.mul').set(s);
    horner(P, s);
    f.get(s).simd('f32x4.mul').get(a).simd('f32x4.mul').get(a).simd('f32x4.add');
    // The large branch: e = exp(y), y = 2·min(a, 10) (NaN stays NaN); n = round(y·log₂e).
    f.get(a).get(k(CLAMP));
    f32x4(f, 'min');
    f.get(k(2)).simd('f32x4.mul').tee(y).get(k(Math.LOG2E)).simd('f32x4.mul');
    f32x4(f, 'nearest');
    f.set(n);
    // r = (y − n·C1) − n·C2, kept in y.
    f.get(y).get(n).get(k(C1)).simd('f32x4.mul').simd('f32x4.sub');
    f.get(n).get(k(C2)).simd('f32x4.mul').simd('f32x4.sub').set(y);
    // exp r = (Q(r)·r²+ r) + 1, kept in s (the small branch's s is no longer needed).
    horner(Q, y);
    f.get(y).get(y).simd('f32x4.mul').simd('f32x4.mul').get(y).simd('f32x4.add').get(k(1)).simd('f32x4.add');
    // times 2^n: the float32 whose biased exponent is n + 127 (n is 2..29 here; a NaN lane's n is 0).
    f.get(n);
    f32x4(f, 'i32x4TruncSatF32x4S');
    f.i32(127).simd('i32x4.splat').simd('i32x4.add').i32(23).simd('i32x4.shl').simd('f32x4.mul');
    // 1 − 2/(e + 1)
    f.set(s);
    f.get(k(1)).get(k(2)).get(s).get(k(1)).simd('f32x4.add');
    f32x4(f, 'div');
    f.simd('f32x4.sub');
    // Which branch, lane by lane: a < 0.625 keeps the polynomial.
    f.get(a).get(k(SMALL));
    f32x4(f, 'lt');
    f.simd('v128.bitselect');
    // The sign of x on the magnitude: bitselect(x, magnitude, sign bit).
    f.set(s).get(v).get(s).get(k(-0)).simd('v128.bitselect');
    f.simd('v128.store', V128);
    f.get(i).i32(16).add().tee(i).get(bytes).ltU().brIf(0);
  });
  return f;
}

const moduleBytes = (): Uint8Array => assembleModule([{ name: 'tanh', fn: buildTanh() }]);
/** Whole f32x4 groups, rounded up to 64 bytes: a length not a multiple of 4 computes (and drops) a few more lanes. */
const regionBytes = (n: number): number => Math.ceil((n * 4) / 64) * 64;
/** Regions start past 64 bytes of slack, as in the other kernels. */
const DATA_AT = 64;

export class F32Tanh extends WasmKernelHost {
  private readonly fn: TanhFn;

  constructor() {
    const instance = instantiate(moduleBytes());
    super(instance.exports.memory as WasmMemory);
    this.fn = instance.exports.tanh as TanhFn;
  }

  /** The module's bytes validate (false where the engine lacks WebAssembly or its SIMD). */
  static supported(): boolean {
    return validates(moduleBytes());
  }

  /** tanh of a float32 array (else, or where memory cannot grow that far, the CPU reference). */
  readonly tanh: UnaryKernel = (x, out, p) => {
    const n = out.length;
    if (x instanceof Float32Array && out instanceof Float32Array && n > 0) {
      const xAt = DATA_AT;
      const oAt = xAt + regionBytes(n);
      if (this.ensure(oAt + regionBytes(n))) {
        this.f32.set(x.subarray(0, n), xAt / 4);
        this.fn(xAt, oAt, Math.ceil(n / 4) * 16);
        out.set(this.f32.subarray(oAt / 4, oAt / 4 + n));
        return;
      }
    }
    cpuUnary('tanh')(x, out, p);
  };

  /** The 'unary' kernel: tanh here, every other op (GELU included) the CPU reference's. */
  readonly unary = (op: UnaryOp): UnaryKernel => (op === 'tanh' ? this.tanh : cpuUnary(op));
}

/** The bound the header states: float32 ulps from float64 tanh. */
export const F32_TANH_ULPS = 2;

/** The float32 ulp at |y| (the gap to the next float32 away from zero; the subnormal gap below 2^-126). */
export function f32Ulp(y: number): number {
  const m = Math.abs(y);
  if (m < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(m)) - 23);
}

/**
 * The self-check at registration: within F32_TANH_ULPS of float64 tanh on the branch boundary (0.625),
 * the clamp (9–10), tiny and subnormal values, zeros of both signs (sign kept), ±Inf (±1) and NaN, at
 * a length that leaves a tail of 3; and the other ops are the CPU reference's.
 */
export function f32TanhSelfCheck(unary: (op: UnaryOp) => UnaryKernel): boolean {
  const x = Float32Array.from([
    0,
    -0,
    1e-45,
    -1e-40,
    1e-20,
    0.1,
    -0.3,
    0.6249999,
    0.625,
    -0.6250001,
    0.9,
    1,
    2,
    -3.7,
    8.99,
    9.02,
    9.99,
    10,
    11,
    -50,
    1e30,
    Infinity,
    -Infinity,
    NaN,
    0.5,
    -0.75,
    4.5,
  ]);
  const out = new Float32Array(x.length).fill(NaN);
  unary('tanh')(x, out, 0);
  for (let i = 0; i < x.length; i++) {
    const want = Math.tanh(x[i]);
    if (Number.isNaN(want) ? !Number.isNaN(out[i]) : want === 0 ? !Object.is(out[i], x[i]) : false)
      return false;
    if (!Number.isNaN(want) && Math.abs(out[i] - want) > F32_TANH_ULPS * f32Ulp(want)) return false;
  }
  const gelu = new Float32Array(3);
  const geluRef = new Float32Array(3);
  unary('gelu')(x.subarray(0, 3), gelu, 0);
  cpuUnary('gelu')(x.subarray(0, 3), geluRef, 0);
  return gelu.every((g, i) => Object.is(g, geluRef[i]));
}

if (f32KernelsEnabled && F32Tanh.supported()) {
  const t = new F32Tanh();
  registerF32Kernel('unary', t.unary, f32TanhSelfCheck);
}
