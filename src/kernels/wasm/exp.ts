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
