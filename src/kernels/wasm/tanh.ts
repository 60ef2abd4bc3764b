/**
 * WebAssembly tanh over float32 arrays: the 'wasm' backend of the 'unary' kernel's tanh (other ops,
 * and float64 arrays, go to the CPU reference). The CPU reference stores Math.tanh(x) rounded to
 * float32; V8's Math.tanh is fdlibm's (FreeBSD msun s_tanh.c over s_expm1.c), an out-of-line call of
 * ~20 ns per element that made tanh about a tenth of an MLP Adam step. This transcribes fdlibm's
 * float64 operations, two elements per f64x2 operation, so every lane is Math.tanh's float64 value
 * bit for bit (IEEE lane arithmetic rounds as scalar arithmetic does) and the float32 result the
 * reference's: all 2^32 float32 bit patterns agree (bench/tanh-exhaustive.ts, run by hand), and
 * test/kernels/tanh-wasm.test.ts checks a sample and every branch point. Measured (2-vCPU EPYC, Node 20, CPU time, loaded machine, the
 * MLP's [128, 256] activations in ±3): 13.9 ns per element against the reference's 20.8.
 *
 * fdlibm branches on the high word of |x|; each branch here is a lane mask from a float64 comparison
 * with the threshold that high word stands for (|x| < 2^-28, ≥ 1, ≥ 22), every branch's value is
 * computed and each lane keeps its own. For |x| in [2^-28, 22) tanh takes t = expm1(X) with X = 2|x|
 * (|x| ≥ 1) or X = −2|x| (|x| < 1): expm1-pair.ts.
 */
import { cpuUnary } from '../cpu/elementwise.js';
import type { UnaryKernel, UnaryOp } from '../registry.js';
import { FunctionBuilder, assembleModule } from './assembler.js';
import { type WasmMemory, instantiate } from './api.js';
import { emitExpm1, expm1Locals } from './expm1-pair.js';
import { F64X2_OP as OP, F64x2Lanes } from './f64x2-lanes.js';
import { WasmKernelHost, align64 } from './kernel-host.js';

const F64 = { align: 3, offset: 0 };

type TanhFn = (x: number, out: number, n: number) => void;

/**
 * tanh(x, out, n): out[i] = float32(fdlibm tanh(x[i])) for float32 x, two at a time. Reads and writes
 * whole pairs: an odd n's last pair reaches one element past the data (the caller's regions leave
 * room). n ≥ 1.
 */
function buildTanh(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32']);
  const [x, out, n] = [0, 1, 2];
  const i8 = f.local('i32');
  const end = f.local('i32');
  const [v, a, big, xx, y, z] = Array.from({ length: 6 }, () => f.local('v128'));
  const l = new F64x2Lanes(f);
  const k = (value: number): number => l.constant(value);
  for (const value of [0, 1, 2, -2, 22, 2 ** -28]) k(value);
  const s = expm1Locals(l);

  f.get(n).i32(1).add().i32(1).scalar('i32.shr_u').i32(8).mul().set(end).i32(0).set(i8);
  f.loop(() => {
    f.get(x).get(i8).add().simd('v128.load64_zero', F64).simd('f64x2.promote_low_f32x4').set(v);
    f.get(v);
    l.op(OP.abs);
    f.set(a);
    // big: |x| ≥ 1, where tanh = 1 − 2/(expm1(2|x|) + 2); else tanh = −t/(t + 2), t = expm1(−2|x|).
    f.get(a).get(k(1));
    l.op(OP.ge);
    f.set(big);
    l.select(
      () => f.get(k(2)).get(a).simd('f64x2.mul'),
      () => f.get(k(-2)).get(a).simd('f64x2.mul'),
      () => f.get(big),
    );
    f.set(xx);
    emitExpm1(l, xx, y, s);
    // z = 1 − 2/(t + 2) where |x| ≥ 1, −t/(t + 2) below (one division: q = (2 or −t)/(t + 2));
    // 1 from |x| ≥ 22; the sign of x.
    l.select(
      () => f.get(k(2)),
      () => {
        f.get(y);
        l.op(OP.neg);
      },
      () => f.get(big),
    );
    f.get(y).get(k(2));
    l.add();
    l.div();
    f.set(z);
    l.select(
      () => {
        f.get(k(1)).get(z);
        l.sub();
      },
      () => f.get(z),
      () => f.get(big),
    );
    f.set(z);
    l.select(
      () => f.get(k(1)),
      () => f.get(z),
      () => {
        f.get(a).get(k(22));
        l.op(OP.ge);
      },
    );
    f.set(z);
    l.select(
      () => {
        f.get(z);
        l.op(OP.neg);
      },
      () => f.get(z),
      () => {
        f.get(v).get(k(0));
        l.op(OP.lt);
      },
    );
    f.set(z);
    // |x| < 2^-28 (zeros included) and NaN: x itself.
    l.select(
      () => f.get(v),
      () => f.get(z),
      () => {
        f.get(a).get(k(2 ** -28));
        l.op(OP.lt);
        f.get(v).get(v);
        l.op(OP.ne);
        l.op(OP.v128Or);
      },
    );
    f.set(z);
    f.get(out).get(i8).add().get(z).simd('f32x4.demote_f64x2_zero').lane('v128.store64_lane', 0, F64);
    f.get(i8).i32(8).add().tee(i8).get(end).ltU().brIf(0);
  });
  return f;
}

export class WasmTanh extends WasmKernelHost {
  private readonly fn: TanhFn;

  constructor() {
    const instance = instantiate(assembleModule([{ name: 'tanh', fn: buildTanh() }]));
    super(instance.exports.memory as WasmMemory);
    this.fn = instance.exports.tanh as TanhFn;
  }

  /** tanh of a float32 array (else the CPU reference). */
  readonly tanh: UnaryKernel = (x, out, p) => {
    const n = out.length;
    if (x instanceof Float32Array && out instanceof Float32Array && n > 0) {
      // Regions rounded up to 64 bytes leave room for an odd n's last pair; 64 bytes of slack at 0.
      const xAt = 64;
      const oAt = xAt + align64(n * 4 + 4);
      if (this.ensure(oAt + align64(n * 4 + 4))) {
        this.f32.set(x.subarray(0, n), xAt / 4);
        this.fn(xAt, oAt, n);
        out.set(this.f32.subarray(oAt / 4, oAt / 4 + n));
        return;
      }
    }
    cpuUnary('tanh')(x, out, p);
  };

  /** The 'unary' kernel: tanh here, every other op the CPU reference's. */
  readonly unary = (op: UnaryOp): UnaryKernel => (op === 'tanh' ? this.tanh : cpuUnary(op));
}
