/**
 * exp over four float32 lanes, Cephes' expf (as in the SSE/NEON ports PyTorch's CPU kernels descend
 * from): n = round(x·log₂e), r = x − n·ln2 with ln2 split in two parts (C1 has 9 significant bits,
 * so n·C1 is exact and x − n·C1 loses nothing), exp(r) on |r| ≤ ½ln2 by Cephes' degree-7 polynomial
 * 1 + r + r²·P(r), then the scale 2^n built in the exponent bits. 2^n is applied as 2^⌊n/2⌋·2^(n−⌊n/2⌋),
 * two normal powers, so one rounding takes the result into the subnormals (or to 0) and past
 * float32's largest value to +Infinity without a test per lane.
 *
 * Arguments are clamped to [−104, 89] first (exp(−104) ≈ 6.8e-46 rounds to 0, exp(89) overflows), so
 * −Infinity → 0 and +Infinity → +Infinity; NaN passes the clamp (pmax/pmin keep a NaN first operand)
 * and the polynomial, and comes out NaN. Measured against Math.exp over every 64th float32 in
 * [−104, 89] (bench/f32-gelu-error.ts): at most 0.97 ulp where the result is normal; a subnormal
 * result is within 2^-149 (its one rounding plus the polynomial's error).
 */
import { FunctionBuilder } from '../wasm/assembler.js';
import { F32X4_OP as OP, F32x4Lanes } from './f32x4-emit.js';

const LOW = -104;
const HIGH = 89;
const V128 = { align: 4, offset: 0 };
/** 1.5·2²³: adding it rounds to an integer (see `emitExpF32`). */
const ROUNDER = 12582912;
const C1 = 0.693359375;
const C2 = -2.1219444e-4;
/** Cephes expf's P, highest degree first. */
const P = [1.98756915e-4, 1.39819995e-3, 8.333451907e-3, 4.166579589e-2, 1.666666546e-1, 5.00000012e-1];

/** The v128 locals (and constants) one `emitExpF32` needs; declare before the loop. */
export interface ExpF32Locals {
  readonly z: number;
  readonly n: number;
  readonly k: number;
  readonly p: number;
}

/** Declares `emitExpF32`'s locals and sets its constants (call before the loop). */
export function expF32Locals(l: F32x4Lanes): ExpF32Locals {
  for (const c of [LOW, HIGH, Math.LOG2E, ROUNDER, C1, C2, 1, ...P]) l.constant(c);
  l.intConstant(127);
  const [z, n, k, p] = [0, 1, 2, 3].map(() => l.f.local('v128'));
  return { z, n, k, p };
}

/**
 * outs[j] = exp(xs[j]) lane by lane for each j, v128 locals (outs[j] may be xs[j]), with one
 * `ExpF32Locals` per j. Several vectors are emitted step by step, interleaved: each exponential is a
 * chain of ~25 dependent operations, and independent chains side by side keep the CPU's pipelines
 * full where one chain would wait on its own latencies.
 */
export function emitExpF32(
  l: F32x4Lanes,
  xs: readonly number[],
  outs: readonly number[],
  ss: readonly ExpF32Locals[],
): void {
  const { f } = l;
  const k = (value: number): number => l.constant(value);
  const each = (step: (x: number, out: number, s: ExpF32Locals) => void): void =>
    xs.forEach((x, j) => step(x, outs[j], ss[j]));
  // z = clamp(x); t = z·log₂e + 1.5·2²³ rounds z·log₂e to the nearest integer n, which sits in t's
  // low mantissa bits (|n| ≤ 151 ≪ 2²²): n = t − 1.5·2²³ exactly, and bits(t) − bits(1.5·2²³) = n.
  each((x, _, s) => {
    f.get(x).get(k(LOW));
    l.op(OP.pmax);
    f.get(k(HIGH));
    l.op(OP.pmin);
    f.set(s.z);
  });
  each((_x, _, s) => {
    f.get(s.z).get(k(Math.LOG2E));
    l.mul();
    f.get(k(ROUNDER));
    l.add();
    f.set(s.k);
  });
  each((_x, _, s) => {
    f.get(s.k).get(k(ROUNDER));
    l.sub();
    f.set(s.n);
  });
  // r = (z − n·C1) − n·C2, kept in z
  each((_x, _, s) => {
    f.get(s.z).get(s.n).get(k(C1));
    l.mul();
    l.sub();
    f.get(s.n).get(k(C2));
    l.mul();
    l.sub();
    f.set(s.z);
  });
  // p = P(r) by Horner, then 1 + r + r²·P(r) as (P(r)·r² + r) + 1
  each((_x, _, s) => {
    f.get(k(P[0])).get(s.z);
    l.mul();
    f.get(k(P[1]));
    l.add();
    f.set(s.p);
  });
  for (const c of P.slice(2))
    each((_x, _, s) => {
      f.get(s.p).get(s.z);
      l.mul();
      f.get(k(c));
      l.add();
      f.set(s.p);
    });
  each((_x, _, s) => {
    f.get(s.p).get(s.z).get(s.z);
    l.mul();
    l.mul();
    f.get(s.z);
    l.add();
    f.get(k(1));
    l.add();
    f.set(s.p);
  });
  // 2^n as 2^h·2^(n−h), h = n >> 1: each factor's biased exponent (h + 127) << 23 is in 1..254.
  each((_x, _, s) => {
    f.get(s.k).get(k(ROUNDER)).simd('i32x4.sub').tee(s.k).i32(1);
    l.op(OP.i32x4ShrS);
    f.set(s.n);
  });
  each((_x, out, s) => {
    f.get(s.p).get(s.n).get(l.intConstant(127)).simd('i32x4.add').i32(23).simd('i32x4.shl');
    l.mul();
    f.get(s.k).get(s.n).simd('i32x4.sub').get(l.intConstant(127)).simd('i32x4.add').i32(23).simd('i32x4.shl');
    l.mul();
    f.set(out);
  });
}

/**
 * A function exp(x, out, n) over float32 arrays, whole quads (n ≥ 1, rounded up to a multiple of 4): the
 * emitter on its own, for measuring its error (bench/f32-gelu-error.ts, test/kernels/f32-exp.test.ts).
 */
export function buildExpF32Array(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32']);
  const [x, out, n] = [0, 1, 2];
  const l = new F32x4Lanes(f);
  const s = expF32Locals(l);
  const [i4, end, v] = [f.local('i32'), f.local('i32'), f.local('v128')];
  f.get(n).i32(3).add().i32(2).scalar('i32.shr_u').i32(16).mul().set(end).i32(0).set(i4);
  f.loop(() => {
    f.get(x).get(i4).add().simd('v128.load', V128).set(v);
    emitExpF32(l, [v], [v], [s]);
    f.get(out).get(i4).add().get(v).simd('v128.store', V128);
    f.get(i4).i32(16).add().tee(i4).get(end).ltU().brIf(0);
  });
  return f;
}
