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
 * with the threshold that high word stands for (hx < H ⟺ |x| < H·2³², hx > H ⟺ |x| ≥ (H + 1)·2³²),
 * and every branch's value is computed and the lane's own selected. For |x| in [2^-28, 22) tanh
 * takes t = expm1(X) with X = 2|x| (|x| ≥ 1) or X = −2|x| (|x| < 1); on those X, expm1's reduction
 * k = trunc(X/ln2 ± ½) is 0, −1, −2 or −3 (X in (−2, −2^-27]) or 3…63 (X in [2, 44)); its k = 1
 * branch is never taken, and k = ±1 from the "|x| < 1.5 ln2" branch is the general reduction with
 * t = ±1 (X − 1·ln2_hi rounds as X − ln2_hi).
 */
import { cpuUnary } from '../cpu/elementwise.js';
import type { UnaryKernel, UnaryOp } from '../registry.js';
import { FunctionBuilder, assembleModule } from './assembler.js';
import { type WasmMemory, instantiate } from './api.js';
import { WasmKernelHost } from './kernel-host.js';

const F64 = { align: 3, offset: 0 };

// fdlibm's constants (s_expm1.c).
const LN2_HI = 6.9314718036912381649e-1;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.442695040888963387;
const Q = [
  -3.33333333333331316428e-2, 1.58730158725481460165e-3, -7.93650757867487942473e-5,
  4.00821782732936239552e-6, -2.01099218183624371326e-7,
];

/** The float64 whose high word is `hi` and low word 0: fdlibm's high-word thresholds as values. */
function highWord(hi: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, hi);
  return view.getFloat64(0);
}
/** expm1: hx > 0x3fd62e42 (|X| > ½ln2): reduce; hx < 0x3ff0a2b2 (|X| < 1.5 ln2): k = ±1. */
const REDUCE_FROM = highWord(0x3fd62e43);
const NEAR_BELOW = highWord(0x3ff0a2b2);

// SIMD sub-opcodes the assembler's table lacks (after the 0xFD prefix).
const OP = {
  f64x2Eq: 0x47,
  f64x2Ne: 0x48,
  f64x2Lt: 0x49,
  f64x2Gt: 0x4a,
  f64x2Le: 0x4b,
  f64x2Ge: 0x4c,
  v128Or: 0x50,
  f64x2Trunc: 0x7a,
  i64x2ExtendLowI32x4S: 0xc7,
  i64x2Shl: 0xcb,
  f64x2Abs: 0xec,
  f64x2Neg: 0xed,
} as const;

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
  const v128 = (): number => f.local('v128');
  const [v, a, big, xx, kf, hi, lo, c, hfx, hxs, r1, t, e, e2, pk, nk, y, z, tmp] = Array.from(
    { length: 19 },
    v128,
  );
  const consts = new Map<number, number>();
  /** A v128 local holding `value` in both f64 lanes, set before the loop. */
  const k = (value: number): number => {
    let l = consts.get(value);
    if (l === undefined) {
      l = v128();
      f.f64(value).simd('f64x2.splat').set(l);
      consts.set(value, l);
    }
    return l;
  };
  for (const value of [0, 0.5, -0.5, 1, -1, 2, 3, 6, 20, 22, 56, -2, 2 ** -28, LN2_HI, LN2_LO, INV_LN2])
    k(value);
  for (const q of Q) k(q);
  k(REDUCE_FROM);
  k(NEAR_BELOW);
  const bias = v128();
  f.i32(1023).simd('i32x4.splat').set(bias);
  const simd = (op: number): void => void f.op(0xfd, ...uleb(op));
  const add = (): void => void f.simd('f64x2.add');
  const sub = (): void => void f.simd('f64x2.sub');
  const mul = (): void => void f.simd('f64x2.mul');
  const div = (): void => void f.simd('f64x2.div');
  /** Pushes (mask ? then : else) per lane: bitselect(then, else, mask). */
  const select = (then: () => void, otherwise: () => void, mask: () => void): void => {
    then();
    otherwise();
    mask();
    f.simd('v128.bitselect');
  };
  /** Pushes 2^(±kf) per lane: the exponent bits (1023 ± k) << 52 of the integer k in kf. */
  const powerOfTwo = (sign: 1 | -1): void => {
    f.get(kf);
    if (sign < 0) simd(OP.f64x2Neg);
    f.simd('i32x4.trunc_sat_f64x2_s_zero').get(bias).simd('i32x4.add');
    simd(OP.i64x2ExtendLowI32x4S);
    f.i32(52);
    simd(OP.i64x2Shl);
  };

  f.get(n).i32(1).add().i32(1).scalar('i32.shr_u').i32(8).mul().set(end).i32(0).set(i8);
  f.loop(() => {
    f.get(x).get(i8).add().simd('v128.load64_zero', F64).simd('f64x2.promote_low_f32x4').set(v);
    f.get(v);
    simd(OP.f64x2Abs);
    f.set(a);
    // big: |x| ≥ 1, where tanh = 1 − 2/(expm1(2|x|) + 2); else tanh = −t/(t + 2), t = expm1(−2|x|).
    f.get(a).get(k(1));
    simd(OP.f64x2Ge);
    f.set(big);
    select(
      () => f.get(k(2)).get(a).simd('f64x2.mul'),
      () => f.get(k(-2)).get(a).simd('f64x2.mul'),
      () => f.get(big),
    );
    f.set(xx);

    // expm1(xx). kf = trunc(INV_LN2·X ± ½) (k = ±1 below 1.5 ln2), 0 below ½ ln2 (no reduction).
    f.get(xx).get(k(0));
    simd(OP.f64x2Gt);
    f.set(tmp); // X > 0
    select(
      () => {
        select(
          () => f.get(k(1)),
          () => f.get(k(-1)),
          () => f.get(tmp),
        );
      },
      () => {
        f.get(k(INV_LN2)).get(xx);
        mul();
        select(
          () => f.get(k(0.5)),
          () => f.get(k(-0.5)),
          () => f.get(tmp),
        );
        add();
        simd(OP.f64x2Trunc);
      },
      () => {
        f.get(xx);
        simd(OP.f64x2Abs);
        f.get(k(NEAR_BELOW));
        simd(OP.f64x2Lt);
      },
    );
    f.set(kf);
    select(
      () => f.get(kf),
      () => f.get(k(0)),
      () => {
        f.get(xx);
        simd(OP.f64x2Abs);
        f.get(k(REDUCE_FROM));
        simd(OP.f64x2Ge);
      },
    );
    f.set(kf);
    // hi = X − t·ln2_hi; lo = t·ln2_lo; x = hi − lo; c = (hi − x) − lo (all exact zeros when k = 0).
    f.get(xx).get(kf).get(k(LN2_HI));
    mul();
    sub();
    f.set(hi);
    f.get(kf).get(k(LN2_LO));
    mul();
    f.set(lo);
    f.get(hi).get(lo);
    sub();
    f.set(xx);
    f.get(hi).get(xx);
    sub();
    f.get(lo);
    sub();
    f.set(c);
    // hfx = ½x; hxs = x·hfx; r1 = 1 + hxs(Q1 + hxs(Q2 + hxs(Q3 + hxs(Q4 + hxs·Q5))))
    f.get(k(0.5)).get(xx);
    mul();
    f.set(hfx);
    f.get(xx).get(hfx);
    mul();
    f.set(hxs);
    f.get(k(1)).get(hxs);
    for (let j = 0; j < 4; j++) f.get(k(Q[j])).get(hxs);
    f.get(k(Q[4]));
    for (let j = 0; j < 5; j++) {
      mul();
      add();
    }
    f.set(r1);
    // t = 3 − r1·hfx; e = hxs·((r1 − t)/(6 − x·t))
    f.get(k(3)).get(r1).get(hfx);
    mul();
    sub();
    f.set(t);
    f.get(hxs).get(r1).get(t);
    sub();
    f.get(k(6)).get(xx).get(t);
    mul();
    sub();
    div();
    mul();
    f.set(e);
    // k ≠ 0: e2 = (x·(e − c) − c) − hxs
    f.get(xx).get(e).get(c);
    sub();
    mul();
    f.get(c);
    sub();
    f.get(hxs);
    sub();
    f.set(e2);
    powerOfTwo(1);
    f.set(pk);
    powerOfTwo(-1);
    f.set(nk);
    // y by k: 0 → x − (x·e − hxs); −1 → ½(x − e2) − ½; ≤ −2 or > 56 → (1 − (e2 − x))·2^k − 1;
    // 2…19 → ((1 − 2^-k) − (e2 − x))·2^k; 20…56 → ((x − (e2 + 2^-k)) + 1)·2^k.
    const byK: [() => void, () => void][] = [
      [
        () => {
          f.get(xx).get(xx).get(e);
          mul();
          f.get(hxs);
          sub();
          sub();
        },
        () => {
          f.get(kf).get(k(0));
          simd(OP.f64x2Eq);
        },
      ],
      [
        () => {
          f.get(k(0.5)).get(xx).get(e2);
          sub();
          mul();
          f.get(k(0.5));
          sub();
        },
        () => {
          f.get(kf).get(k(-1));
          simd(OP.f64x2Eq);
        },
      ],
      [
        () => {
          f.get(k(1)).get(e2).get(xx);
          sub();
          sub();
          f.get(pk);
          mul();
          f.get(k(1));
          sub();
        },
        () => {
          f.get(kf).get(k(-2));
          simd(OP.f64x2Le);
          f.get(kf).get(k(56));
          simd(OP.f64x2Gt);
          simd(OP.v128Or);
        },
      ],
      [
        () => {
          f.get(k(1)).get(nk);
          sub();
          f.get(e2).get(xx);
          sub();
          sub();
          f.get(pk);
          mul();
        },
        () => {
          f.get(kf).get(k(20));
          simd(OP.f64x2Lt);
        },
      ],
    ];
    // The last case (20…56), then each earlier case over it, so the first that holds wins.
    f.get(xx).get(e2).get(nk);
    add();
    sub();
    f.get(k(1));
    add();
    f.get(pk);
    mul();
    f.set(y);
    for (let j = byK.length - 1; j >= 0; j--) {
      const [value, mask] = byK[j];
      select(value, () => f.get(y), mask);
      f.set(y);
    }
    // tanh: z = 1 − 2/(t + 2) where |x| ≥ 1, −t/(t + 2) below (one division: q = (2 or −t)/(t + 2));
    // 1 from |x| ≥ 22; the sign of x.
    select(
      () => f.get(k(2)),
      () => {
        f.get(y);
        simd(OP.f64x2Neg);
      },
      () => f.get(big),
    );
    f.get(y).get(k(2));
    add();
    div();
    f.set(z);
    select(
      () => {
        f.get(k(1)).get(z);
        sub();
      },
      () => f.get(z),
      () => f.get(big),
    );
    f.set(z);
    select(
      () => f.get(k(1)),
      () => f.get(z),
      () => {
        f.get(a).get(k(22));
        simd(OP.f64x2Ge);
      },
    );
    f.set(z);
    select(
      () => {
        f.get(z);
        simd(OP.f64x2Neg);
      },
      () => f.get(z),
      () => {
        f.get(v).get(k(0));
        simd(OP.f64x2Lt);
      },
    );
    f.set(z);
    // |x| < 2^-28 (zeros included) and NaN: x itself.
    select(
      () => f.get(v),
      () => f.get(z),
      () => {
        f.get(a).get(k(2 ** -28));
        simd(OP.f64x2Lt);
        f.get(v).get(v);
        simd(OP.f64x2Ne);
        simd(OP.v128Or);
      },
    );
    f.set(z);
    f.get(out).get(i8).add().get(z).simd('f32x4.demote_f64x2_zero').lane('v128.store64_lane', 0, F64);
    f.get(i8).i32(8).add().tee(i8).get(end).ltU().brIf(0);
  });
  return f;
}

/** Unsigned LEB128 of a SIMD sub-opcode (those here are below 2^14). */
function uleb(value: number): number[] {
  return value < 0x80 ? [value] : [(value & 0x7f) | 0x80, value >> 7];
}

const align64 = (bytes: number): number => Math.ceil(bytes / 64) * 64;

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
