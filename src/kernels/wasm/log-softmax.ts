/**
 * WebAssembly halves of the float32 log-softmax (the 'softmax' kernel's wasm backend with `log`),
 * split around the one operation WebAssembly lacks: per row, `buildLogStats` finds the max m and
 * s = Σ expForFloat32(x − m) exactly as the CPU reference's loops do; the caller then computes
 * lse = m + Math.log(s) in JavaScript (one call per row, as the reference does); `buildLogOut` writes
 * x − lse. Every result is the reference's bit for bit.
 */
import { FunctionBuilder } from './assembler.js';
import { type ExpLocals, emitExp, loadF32 } from './exp.js';

const F32 = { align: 2, offset: 0 };
const F64 = { align: 3, offset: 0 };

/** Per row r: stats[2r] = max, stats[2r + 1] = Σ exp(x − max) (float64); rows, cols ≥ 1. */
export function buildLogStats(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, rows, cols, stats, table] = [0, 1, 2, 3, 4];
  const r = f.local('i32');
  const j4 = f.local('i32');
  const colBytes = f.local('i32');
  const i = f.local('i32');
  const m = f.local('f64');
  const v = f.local('f64');
  const s = f.local('f64');
  const z = f.local('f64');
  const rr = f.local('f64');
  const ex: ExpLocals = { z, i, r: rr };
  f.get(cols).i32(4).mul().set(colBytes);
  f.i32(0).set(r);
  f.loop(() => {
    // m = max (a NaN never compares greater)
    f.f64(-Infinity).set(m).i32(0).set(j4);
    f.loop(() => {
      loadF32(f, x, j4);
      f.set(v);
      f.get(v).get(m).get(v).get(m).scalar('f64.gt').scalar('select').set(m);
      f.get(j4).i32(4).add().tee(j4).get(colBytes).ltU().brIf(0);
    });
    f.f64(0).set(s).i32(0).set(j4);
    f.loop(() => {
      loadF32(f, x, j4);
      f.get(m).scalar('f64.sub').set(v);
      f.get(s);
      emitExp(f, v, table, ex);
      f.scalar('f64.add').set(s);
      f.get(j4).i32(4).add().tee(j4).get(colBytes).ltU().brIf(0);
    });
    f.get(stats).get(m).scalar('f64.store', F64);
    f.get(stats).get(s).scalar('f64.store', { align: 3, offset: 8 });
    f.addConst(stats, 16).addLocal(x, colBytes);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}

/** out = x − lse[r] per row, rounded to float32, with lse at stats[2r]; rows, cols ≥ 1. */
export function buildLogOut(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, rows, cols, stats, out] = [0, 1, 2, 3, 4];
  const r = f.local('i32');
  const j4 = f.local('i32');
  const colBytes = f.local('i32');
  const lse = f.local('f64');
  f.get(cols).i32(4).mul().set(colBytes);
  f.i32(0).set(r);
  f.loop(() => {
    f.get(stats).scalar('f64.load', F64).set(lse).i32(0).set(j4);
    f.loop(() => {
      f.get(out).get(j4).add();
      loadF32(f, x, j4);
      f.get(lse).scalar('f64.sub').scalar('f32.demote_f64').scalar('f32.store', F32);
      f.get(j4).i32(4).add().tee(j4).get(colBytes).ltU().brIf(0);
    });
    f.addConst(stats, 16).addLocal(x, colBytes).addLocal(out, colBytes);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}
