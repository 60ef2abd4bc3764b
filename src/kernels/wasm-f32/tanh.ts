/**
 * Float32 tanh over four lanes: the 'unary' kernel's 'wasm-f32' backend, whose own op is tanh (every
 * other op, and float64 arrays, go to the CPU reference, as the exact 'wasm' backend hands them on —
 * GELU included, so fused.ts keeps its saved exponentials). Cephes' tanhf, as PyTorch's vectorised
 * CPU kernels compute it, in float32 lane arithmetic on a = |x|, the sign copied back last:
 * - a < 0.625: a + (P(a²)·a²)·a, Cephes' degree-4 odd polynomial P;
 * - else 1 − 2/(exp(2a) + 1), exp the shared Cephes expf (f32x4-exp.ts, its general form `emit`, fused
 *   multiply-adds where the engine has relaxed SIMD): past a ≈ 44.4 it is +Inf
 *   and the result exactly 1 (tanh already rounds to 1 in float32 beyond a = 9.01).
 * −0 stays −0 (the polynomial's a + …·a keeps a's +0, the sign is then x's), NaN stays NaN (exp and
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
import { WasmKernelHost, align64 } from '../wasm/kernel-host.js';
import { F32x4Exp } from './f32x4-exp.js';
import { F32x4Lanes } from './f32x4-lanes.js';
import { FUSED_EXP } from './fused-madd.js';
import { f32KernelsEnabled, registerF32Kernel } from './register.js';

type TanhFn = (x: number, out: number, bytes: number) => void;

const V128 = { align: 4, offset: 0 };
/** Cephes tanhf's odd polynomial on |x| < 0.625, highest degree first (tanh a = a + P(a²)·a²·a). */
const P = [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1];
const SMALL = 0.625;

/** tanh(x, out, bytes): out = tanh(x) four float32s at a time over `bytes` (a multiple of 16, ≥ 16). */
function buildTanh(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32']);
  const [x, out, bytes] = [0, 1, 2];
  const i = f.local('i32');
  const [v, a, s, e] = Array.from({ length: 4 }, () => f.local('v128'));
  const l = new F32x4Lanes(f);
  const k = (value: number): number => l.constant(value);
  for (const value of [...P, SMALL, 1, 2]) k(value);
  const signBit = l.bits(-0x80000000);
  const exp = new F32x4Exp(l, FUSED_EXP);
  f.i32(0).set(i);
  f.loop(() => {
    f.get(out).get(i).add(); // store address, under the result
    f.get(x).get(i).add().simd('v128.load', V128).tee(v);
    l.op('f32x4.abs');
    f.set(a);
    // The small branch: a + (P(s)·s)·a, s = a².
    f.get(a).get(a);
    l.op('f32x4.mul');
    f.set(s).get(k(P[0]));
    for (const c of P.slice(1)) {
      f.get(s);
      l.op('f32x4.mul');
      f.get(k(c));
      l.op('f32x4.add');
    }
    f.get(s);
    l.op('f32x4.mul');
    f.get(a);
    l.op('f32x4.mul');
    f.get(a);
    l.op('f32x4.add');
    // The large branch: 1 − 2/(exp(2a) + 1); exp(2a) is +Inf from a ≈ 44.4 (then 1), NaN for NaN.
    f.get(a).get(k(2));
    l.op('f32x4.mul');
    f.set(e);
    f.get(k(1)).get(k(2));
    exp.emit(e);
    f.get(k(1));
    l.op('f32x4.add');
    l.op('f32x4.div');
    l.op('f32x4.sub');
    // Which branch, lane by lane: a < 0.625 keeps the polynomial.
    f.get(a).get(k(SMALL));
    l.op('f32x4.lt');
    f.simd('v128.bitselect');
    // The sign of x on the magnitude: bitselect(x, magnitude, sign bit).
    f.set(s).get(v).get(s).get(signBit).simd('v128.bitselect');
    f.simd('v128.store', V128);
    f.get(i).i32(16).add().tee(i).get(bytes).ltU().brIf(0);
  });
  return f;
}

const moduleBytes = (): Uint8Array => assembleModule([{ name: 'tanh', fn: buildTanh() }]);
/** Whole f32x4 groups, rounded up to 64 bytes: a length not a multiple of 4 computes (and drops) a few more lanes. */
const regionBytes = (n: number): number => align64(n * 4);
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
 * where tanh rounds to 1 (9.01) and exp(2a) overflows (44.4), tiny and subnormal values, zeros of both signs (sign kept), ±Inf (±1) and NaN, at
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
