/**
 * A float32 exponential four lanes at a time, as Cephes' expf (and PyTorch's vectorised CPU kernels)
 * compute it: n = round(x·log2 e), r = x − n·ln 2 with ln 2 in two parts (C1 exact in 9 bits, so n·C1
 * is exact), exp r from a degree-5 polynomial in r times r² plus 1 + r, then 2^n built in the exponent
 * bits. Branch-free: every lane runs the same instructions. The multiply-adds are fused where the
 * engine has relaxed SIMD (fused-madd.ts): causal softmax [8192, 64] 627 → 465 µs (bench by hand).
 * Every float32 kernel's exponential: GELU's (gelu.ts, the general form `emit`, as its e = exp(−2u)
 * overflows to +Inf for very negative x) and the softmax family's (`emitNonPositive` in the rows).
 *
 * Range: x is clamped to [−104, 89] first (pmin/pmax with x first, so a NaN lane stays NaN). Below
 * −104 the result is 0 (exp(−104) ≈ 6.8e−46, under half the smallest subnormal); above 89 it is +Inf
 * (exp(88.73) already overflows). 2^n is applied as 2^⌊n/2⌋ · 2^(n−⌊n/2⌋), two exact powers in the
 * normal range, so results between 2^−149 and FLT_MAX are rounded once, subnormals included: x ≥ 88.73
 * gives +Inf, x ≤ −103.98 gives 0, −Inf gives 0, +Inf gives +Inf, NaN gives NaN.
 *
 * Accuracy, measured against Math.exp (float64) on every 64th float32 in [−104, 89] by bit pattern
 * (34 million x; `emitNonPositive` on those ≤ 0): at most 0.99995 ulp of the float32 result where it
 * is normal with the fused multiply-adds (worst at x = −28.04358), 0.9605 ulp unfused (x = −5.86813)
 * — relative error ≤ 1.2e−7 — and at most 0.742·2^−149 in the subnormal range (`emit`); the special
 * values above exactly. test/kernels/f32-softmax.test.ts asserts ≤ 1 ulp for both forms and both
 * multiply-adds on every 1009th float32, test/kernels/f32-exp.test.ts for `emit` on a grid.
 */
import { FunctionBuilder } from '../wasm/assembler.js';
import { FUSED_EXP } from './fused-madd.js';
import { F32x4Lanes } from './f32x4-lanes.js';

/** Cephes expf's constants. */
const LOG2E = Math.LOG2E;
const C1 = 0.693359375;
const C2 = -2.1219444e-4;
const P = [
  1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1,
];
/** 1.5·2^23: t = v + MAGIC rounds v to an integer n in t's low mantissa bits (|v| < 2^22). */
const MAGIC = 12582912;
const MAGIC_BITS = 0x4b400000;
const ONE_BITS = 127 << 23;

export class F32x4Exp {
  private readonly k: Record<string, () => void>;
  private readonly c: number;
  private readonly t: number;
  private readonly n: number;
  private readonly r: number;

  /**
   * Declares the scratch locals. The constants are pushed as v128.const where used, not held in
   * locals: with the scratch values they outnumber the 16 vector registers, and V8 spilled them
   * (`emit` ran at 11 ns per group of four with constants in locals, 6.3 with v128.const).
   * `fused`: the multiply-adds as relaxed-SIMD f32x4.relaxed_madd (the caller checks the engine has
   * relaxed SIMD: wasmRelaxedSimdSupported), which x86-64 V8 emits as one FMA where the CPU has FMA3;
   * otherwise a multiply and an add, the same results as `fused` false.
   */
  constructor(
    private readonly l: F32x4Lanes,
    private readonly fused = false,
  ) {
    const k =
      (v: number): (() => void) =>
      () =>
        l.pushConstant(v);
    const b =
      (bits: number): (() => void) =>
      () =>
        l.pushBits(bits);
    this.k = {
      lo: k(-104),
      hi: k(89),
      log2e: k(LOG2E),
      negC1: k(-C1),
      negC2: k(-C2),
      one: k(1),
      magic: k(MAGIC),
      floor: k(-88),
      biasedMagic: k(MAGIC + 127),
      magicBits: b(MAGIC_BITS),
      oneBits: b(ONE_BITS),
      ...Object.fromEntries(P.map((p, i) => [`p${i}`, k(p)])),
    };
    this.c = l.f.local('v128');
    this.t = l.f.local('v128');
    this.n = l.f.local('v128');
    this.r = l.f.local('v128');
  }

  /** Pushes exp of the v128 local `x`, lane by lane, over the whole float32 range (x is left unchanged). */
  emit(x: number): void {
    const { l, k, c, t, n } = this;
    const f = l.f;
    // c = min(max(x, lo), hi), NaN kept
    f.get(x);
    k.lo();
    l.op('f32x4.pmax');
    k.hi();
    l.op('f32x4.pmin');
    f.set(c);
    this.reduceAndPolynomial(k.magic);
    // · 2^i1 · 2^(i − i1), i = bits(t) − bits(magic), i1 = i >> 1 (n itself is no longer needed)
    f.get(t);
    k.magicBits();
    l.op('i32x4.sub');
    f.tee(n).i32(1);
    l.op('i32x4.shr_s');
    f.tee(t).i32(23);
    l.op('i32x4.shl');
    k.oneBits();
    l.op('i32x4.add').op('f32x4.mul');
    f.get(n).get(t);
    l.op('i32x4.sub');
    f.i32(23);
    l.op('i32x4.shl');
    k.oneBits();
    l.op('i32x4.add').op('f32x4.mul');
  }

  /**
   * Pushes exp of the v128 local `x` for x ≤ 0 or NaN (x − max in a softmax row), with 8 instructions
   * fewer than `emit` (one clamp and one power of two instead of two each). x is clamped below at −88,
   * and 2^n is one power built from t's bits (t = c·log2e + 1.5·2^23 + 127 holds n + 127 in its low
   * bits): n ≥ −127, where n = −127 (x below −126.5·ln 2 ≈ −87.683) gives the power +0 and so the
   * result 0 — exp there is below 8.3e−39, so the absolute error is under 2^−126 — and n = −126 gives
   * subnormal results, rounded once. −Inf gives 0, NaN NaN; x > 0 is outside its range (n + 127 past
   * 127 carries into the sign bit).
   */
  emitNonPositive(x: number): void {
    const { l, k, c, t } = this;
    const f = l.f;
    f.get(x);
    k.floor();
    l.op('f32x4.pmax');
    f.set(c);
    this.reduceAndPolynomial(k.biasedMagic);
    f.get(t).i32(23);
    l.op('i32x4.shl').op('f32x4.mul');
  }

  /**
   * From c (clamped x): t = c·log2e + magic (the local `magic`), n = t − magic = round(c·log2e);
   * r = c − n·ln 2; pushes 1 + r + r²·p(r), exp r.
   */
  private reduceAndPolynomial(magic: () => void): void {
    const { l, k, c, t, n, r } = this;
    const f = l.f;
    const get = (local: number) => () => f.get(local);
    this.madd(get(c), k.log2e, magic);
    f.tee(t);
    magic();
    l.op('f32x4.sub');
    f.set(n);
    // r = (c − n·C1) − n·C2, as n·(−C1) + c and n·(−C2) + r
    this.madd(get(n), k.negC1, get(c));
    f.set(r);
    this.madd(get(n), k.negC2, get(r));
    f.set(r);
    // p = ((((p0·r + p1)·r + p2)·r + p3)·r + p4)·r + p5, then (p·r)·r + r, + 1
    const horner = (i: number): void => {
      if (i === 0) k.p0();
      else this.madd(() => horner(i - 1), get(r), k[`p${i}`]);
    };
    this.madd(
      () => {
        horner(P.length - 1);
        f.get(r);
        l.op('f32x4.mul');
      },
      get(r),
      get(r),
    );
    k.one();
    l.op('f32x4.add');
  }

  /**
   * Pushes a·b + c from the three pushes: relaxed_madd where `fused`, else a multiply then an add
   * (the rounding of a·b, then of the sum).
   */
  private madd(a: () => void, b: () => void, c: () => void): void {
    a();
    b();
    if (this.fused) {
      c();
      this.l.op('f32x4.relaxed_madd');
    } else {
      this.l.op('f32x4.mul');
      c();
      this.l.op('f32x4.add');
    }
  }
}

/**
 * A function exp(x, out, n) over float32 arrays by `F32x4Exp.emit` (or `emitNonPositive`), whole
 * quads (n ≥ 1, rounded up to a multiple of 4): the emitter on its own, for measuring its error
 * (bench/f32-gelu-error.ts, test/kernels/f32-exp.test.ts, test/kernels/f32-softmax.test.ts).
 */
export function buildExpF32Array(nonPositive = false, fused = FUSED_EXP): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32']);
  const [x, out, n] = [0, 1, 2];
  const l = new F32x4Lanes(f);
  const exp = new F32x4Exp(l, fused);
  const [i4, end, v] = [f.local('i32'), f.local('i32'), f.local('v128')];
  const mem = { align: 4, offset: 0 };
  f.get(n).i32(3).add().i32(2).scalar('i32.shr_u').i32(16).mul().set(end).i32(0).set(i4);
  f.loop(() => {
    f.get(x).get(i4).add().simd('v128.load', mem).set(v);
    f.get(out).get(i4).add();
    if (nonPositive) exp.emitNonPositive(v);
    else exp.emit(v);
    f.simd('v128.store', mem);
    f.get(i4).i32(16).add().tee(i4).get(end).ltU().brIf(0);
  });
  return f;
}
