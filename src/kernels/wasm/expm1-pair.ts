/**
 * fdlibm's expm1 (FreeBSD msun s_expm1.c, which V8's Math.tanh calls) on both f64 lanes, operation for
 * operation, for the arguments tanh gives it: X in (−2, −2^-27] and [2, 44). fdlibm branches on the
 * high word of |X|; each branch here is a lane mask from a float64 comparison with the value that high
 * word stands for (hx < H ⟺ |X| < H·2³², hx > H ⟺ |X| ≥ (H + 1)·2³²), every branch's value is
 * computed and each lane keeps its own. On those X the reduction k = trunc(X/ln2 ± ½) is 0, −1, −2 or
 * −3 (X < 0) or 3…63 (X ≥ 2): fdlibm's k = 1 branch is never taken, its overflow and tiny-argument
 * exits neither, and its k = ±1 case below 1.5 ln2 is the general reduction with t = ±1 (X − 1·ln2_hi
 * rounds as X − ln2_hi).
 */
import { F64X2_OP as OP, type F64x2Lanes } from './f64x2-lanes.js';

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
/** hx > 0x3fd62e42 (|X| > ½ln2): reduce; hx < 0x3ff0a2b2 (|X| < 1.5 ln2): k = ±1. */
const REDUCE_FROM = highWord(0x3fd62e43);
const NEAR_BELOW = highWord(0x3ff0a2b2);

/** The v128 locals `emitExpm1` works in, and the i32x4 splat of 1023 (the exponent bias). */
export interface Expm1Locals {
  readonly kf: number;
  readonly hi: number;
  readonly lo: number;
  readonly c: number;
  readonly hfx: number;
  readonly hxs: number;
  readonly r1: number;
  readonly t: number;
  readonly e: number;
  readonly e2: number;
  readonly pk: number;
  readonly nk: number;
  readonly positive: number;
  readonly bias: number;
}

/** Declares `emitExpm1`'s locals and sets its constants: call before the loop. */
export function expm1Locals(l: F64x2Lanes): Expm1Locals {
  const f = l.f;
  const [kf, hi, lo, c, hfx, hxs, r1, t, e, e2, pk, nk, positive] = Array.from({ length: 13 }, () =>
    f.local('v128'),
  );
  for (const value of [
    0,
    0.5,
    -0.5,
    1,
    -1,
    3,
    6,
    20,
    56,
    -2,
    LN2_HI,
    LN2_LO,
    INV_LN2,
    REDUCE_FROM,
    NEAR_BELOW,
  ])
    l.constant(value);
  for (const q of Q) l.constant(q);
  const bias = f.local('v128');
  f.i32(1023).simd('i32x4.splat').set(bias);
  return { kf, hi, lo, c, hfx, hxs, r1, t, e, e2, pk, nk, positive, bias };
}

/** Pushes 2^(±k) per lane: the exponent bits (1023 ± k) << 52 of the integer k in local kf. */
function powerOfTwo(l: F64x2Lanes, s: Expm1Locals, sign: 1 | -1): void {
  const f = l.f;
  f.get(s.kf);
  if (sign < 0) l.op(OP.neg);
  f.simd('i32x4.trunc_sat_f64x2_s_zero').get(s.bias).simd('i32x4.add');
  l.op(OP.i64x2ExtendLowI32x4S);
  f.i32(52);
  l.op(OP.i64x2Shl);
}

/** Sets local `y` to expm1 of local `x` lane by lane (x is overwritten with the reduced argument). */
export function emitExpm1(l: F64x2Lanes, x: number, y: number, s: Expm1Locals): void {
  const f = l.f;
  const k = (value: number): number => l.constant(value);
  // kf = trunc(INV_LN2·X ± ½) (k = ±1 below 1.5 ln2), 0 below ½ ln2 (no reduction).
  f.get(x).get(k(0));
  l.op(OP.gt);
  f.set(s.positive);
  l.select(
    () =>
      l.select(
        () => f.get(k(1)),
        () => f.get(k(-1)),
        () => f.get(s.positive),
      ),
    () => {
      f.get(k(INV_LN2)).get(x);
      l.mul();
      l.select(
        () => f.get(k(0.5)),
        () => f.get(k(-0.5)),
        () => f.get(s.positive),
      );
      l.add();
      l.op(OP.trunc);
    },
    () => {
      f.get(x);
      l.op(OP.abs);
      f.get(k(NEAR_BELOW));
      l.op(OP.lt);
    },
  );
  f.set(s.kf);
  l.select(
    () => f.get(s.kf),
    () => f.get(k(0)),
    () => {
      f.get(x);
      l.op(OP.abs);
      f.get(k(REDUCE_FROM));
      l.op(OP.ge);
    },
  );
  f.set(s.kf);
  // hi = X − t·ln2_hi; lo = t·ln2_lo; x = hi − lo; c = (hi − x) − lo (all exact zeros when k = 0).
  f.get(x).get(s.kf).get(k(LN2_HI));
  l.mul();
  l.sub();
  f.set(s.hi);
  f.get(s.kf).get(k(LN2_LO));
  l.mul();
  f.set(s.lo);
  f.get(s.hi).get(s.lo);
  l.sub();
  f.set(x);
  f.get(s.hi).get(x);
  l.sub();
  f.get(s.lo);
  l.sub();
  f.set(s.c);
  // hfx = ½x; hxs = x·hfx; r1 = 1 + hxs(Q1 + hxs(Q2 + hxs(Q3 + hxs(Q4 + hxs·Q5))))
  f.get(k(0.5)).get(x);
  l.mul();
  f.set(s.hfx);
  f.get(x).get(s.hfx);
  l.mul();
  f.set(s.hxs);
  f.get(k(1)).get(s.hxs);
  for (let j = 0; j < 4; j++) f.get(k(Q[j])).get(s.hxs);
  f.get(k(Q[4]));
  for (let j = 0; j < 5; j++) {
    l.mul();
    l.add();
  }
  f.set(s.r1);
  // t = 3 − r1·hfx; e = hxs·((r1 − t)/(6 − x·t))
  f.get(k(3)).get(s.r1).get(s.hfx);
  l.mul();
  l.sub();
  f.set(s.t);
  f.get(s.hxs).get(s.r1).get(s.t);
  l.sub();
  f.get(k(6)).get(x).get(s.t);
  l.mul();
  l.sub();
  l.div();
  l.mul();
  f.set(s.e);
  // k ≠ 0: e2 = (x·(e − c) − c) − hxs
  f.get(x).get(s.e).get(s.c);
  l.sub();
  l.mul();
  f.get(s.c);
  l.sub();
  f.get(s.hxs);
  l.sub();
  f.set(s.e2);
  powerOfTwo(l, s, 1);
  f.set(s.pk);
  powerOfTwo(l, s, -1);
  f.set(s.nk);
  // y by k: 0 → x − (x·e − hxs); −1 → ½(x − e2) − ½; ≤ −2 or > 56 → (1 − (e2 − x))·2^k − 1;
  // 2…19 → ((1 − 2^-k) − (e2 − x))·2^k; 20…56 → ((x − (e2 + 2^-k)) + 1)·2^k.
  const byK: [() => void, () => void][] = [
    [
      () => {
        f.get(x).get(x).get(s.e);
        l.mul();
        f.get(s.hxs);
        l.sub();
        l.sub();
      },
      () => {
        f.get(s.kf).get(k(0));
        l.op(OP.eq);
      },
    ],
    [
      () => {
        f.get(k(0.5)).get(x).get(s.e2);
        l.sub();
        l.mul();
        f.get(k(0.5));
        l.sub();
      },
      () => {
        f.get(s.kf).get(k(-1));
        l.op(OP.eq);
      },
    ],
    [
      () => {
        f.get(k(1)).get(s.e2).get(x);
        l.sub();
        l.sub();
        f.get(s.pk);
        l.mul();
        f.get(k(1));
        l.sub();
      },
      () => {
        f.get(s.kf).get(k(-2));
        l.op(OP.le);
        f.get(s.kf).get(k(56));
        l.op(OP.gt);
        l.op(OP.v128Or);
      },
    ],
    [
      () => {
        f.get(k(1)).get(s.nk);
        l.sub();
        f.get(s.e2).get(x);
        l.sub();
        l.sub();
        f.get(s.pk);
        l.mul();
      },
      () => {
        f.get(s.kf).get(k(20));
        l.op(OP.lt);
      },
    ],
  ];
  // The last case (20…56), then each earlier case over it, so the first that holds wins.
  f.get(x).get(s.e2).get(s.nk);
  l.add();
  l.sub();
  f.get(k(1));
  l.add();
  f.get(s.pk);
  l.mul();
  f.set(y);
  for (let j = byK.length - 1; j >= 0; j--) {
    const [value, mask] = byK[j];
    l.select(value, () => f.get(y), mask);
    f.set(y);
  }
}
