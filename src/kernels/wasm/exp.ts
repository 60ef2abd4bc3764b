/**
 * `expForFloat32` (cpu/exp.ts) emitted as scalar float64 WebAssembly: its clamp, table and polynomial,
 * the same float64 operations in the same order, so results are its own bit for bit. The table must
 * be copied into linear memory by the module's owner.
 */
import { EXP_FOR_FLOAT32 } from '../cpu/exp.js';
import type { FunctionBuilder } from './assembler.js';

const F32 = { align: 2, offset: 0 };
const F64 = { align: 3, offset: 0 };

/** Locals the exponential needs. */
export interface ExpLocals {
  z: number;
  i: number;
  r: number;
}

/** Pushes expForFloat32(local y), table at local `table`: the same float64 operations in the same order. */
export function emitExp(f: FunctionBuilder, y: number, table: number, l: ExpLocals): void {
  const { low, high, bias, toK, kToR } = EXP_FOR_FLOAT32;
  // z = y > high ? high : y < low ? low : y
  f.f64(high).f64(low).get(y).get(y).f64(low).scalar('f64.lt').scalar('select');
  f.get(y).f64(high).scalar('f64.gt').scalar('select').set(l.z);
  // i = (z·toK + (bias + 0.5)) | 0
  f.get(l.z)
    .f64(toK)
    .scalar('f64.mul')
    .f64(bias + 0.5)
    .scalar('f64.add')
    .truncSatF64()
    .set(l.i);
  // r = z − (i − bias)·kToR
  f.get(l.z).get(l.i).i32(bias).sub().scalar('f64.convert_i32_s').f64(kToR).scalar('f64.mul');
  f.scalar('f64.sub').set(l.r);
  // (1 + r(1 + r(0.5 + r(1/6 + r/24))))·table[i]
  f.f64(1)
    .get(l.r)
    .f64(1)
    .get(l.r)
    .f64(0.5)
    .get(l.r)
    .f64(1 / 6)
    .get(l.r)
    .f64(1 / 24);
  for (let k = 0; k < 4; k++) f.scalar('f64.mul').scalar('f64.add');
  f.get(table).get(l.i).i32(8).mul().add().scalar('f64.load', F64).scalar('f64.mul');
}

/** Pushes the float32 at base + off, widened. */
export function loadF32(f: FunctionBuilder, base: number, off: number): void {
  f.get(base).get(off).add().scalar('f32.load', F32).scalar('f64.promote_f32');
}

/** Locals and splatted constants of `emitExpPair`, declared once per function by `expPairLocals`. */
export interface ExpPairLocals {
  z: number;
  k: number;
  r: number;
  ev: number;
  consts: number[];
  bias: number;
  table: number;
}

/**
 * Declares `emitExpPair`'s locals and sets its constants (call before the loop); `table` is the i32
 * local or parameter holding the table's address.
 */
export function expPairLocals(f: FunctionBuilder, table: number): ExpPairLocals {
  const { low, high, bias, toK, kToR } = EXP_FOR_FLOAT32;
  const [z, k, r, ev] = [f.local('v128'), f.local('v128'), f.local('v128'), f.local('v128')];
  const consts = [low, high, toK, bias + 0.5, kToR, 1, 0.5, 1 / 6, 1 / 24].map((c) => {
    const l = f.local('v128');
    f.f64(c).simd('f64x2.splat').set(l);
    return l;
  });
  const biasL = f.local('v128');
  f.i32(bias).simd('i32x4.splat').set(biasL);
  const tableL = f.local('v128');
  f.get(table).simd('i32x4.splat').set(tableL);
  return { z, k, r, ev, consts, bias: biasL, table: tableL };
}

/**
 * Pushes expForFloat32 of both f64 lanes of v128 local `y`: `emitExp`'s float64 operations in the
 * same order, lane by lane (IEEE lane arithmetic rounds as scalar arithmetic does), so each lane is
 * the scalar result bit for bit. The clamp pmin(pmax(y, low), high) is the scalar select's value,
 * NaN included; only the table lookup is scalar, one load per lane.
 */
export function emitExpPair(f: FunctionBuilder, y: number, l: ExpPairLocals): void {
  const [cLow, cHigh, cToK, cHalfBias, cKToR, c1, cHalf, cSixth, c24th] = l.consts;
  f.get(y).get(cLow).simd('f64x2.pmax').get(cHigh).simd('f64x2.pmin').set(l.z);
  // k = (z·toK + (bias + 0.5)) | 0, in i32 lanes 0 and 1
  f.get(l.z).get(cToK).simd('f64x2.mul').get(cHalfBias).simd('f64x2.add');
  f.simd('i32x4.trunc_sat_f64x2_s_zero').set(l.k);
  // r = z − (k − bias)·kToR
  f.get(l.z).get(l.k).get(l.bias).simd('i32x4.sub').simd('f64x2.convert_low_i32x4_s');
  f.get(cKToR).simd('f64x2.mul').simd('f64x2.sub').set(l.r);
  // table[k], one scalar load per lane, at table + 8k
  f.get(l.k).i32(3).simd('i32x4.shl').get(l.table).simd('i32x4.add').set(l.k);
  f.get(l.k).lane('i32x4.extract_lane', 0).scalar('f64.load', F64).simd('f64x2.splat');
  f.set(l.ev).get(l.k).lane('i32x4.extract_lane', 1).get(l.ev).lane('v128.load64_lane', 1, F64);
  f.set(l.ev);
  // (1 + r(1 + r(0.5 + r(1/6 + r/24))))·table[k]
  f.get(c1).get(l.r).get(c1).get(l.r).get(cHalf).get(l.r).get(cSixth).get(l.r).get(c24th);
  for (let j = 0; j < 4; j++) f.simd('f64x2.mul').simd('f64x2.add');
  f.get(l.ev).simd('f64x2.mul');
}
