/**
 * WebAssembly halves of the float32 log-softmax (the 'softmax' kernel's wasm backend with `log`),
 * split around the one operation WebAssembly lacks: per row, `buildLogStats` finds the max m and
 * s = Σ expForFloat32(x − m) exactly as the CPU reference's loops do; the caller then computes
 * lse = m + Math.log(s) in JavaScript (one call per row, as the reference does); `buildLogOut` writes
 * x − lse. Every result is the reference's bit for bit. `buildLogVjp` is the log-softmax VJP
 * g − exp(y)·s_row, rounded where the CPU reference (`cpuLogSoftmaxVjp`) rounds.
 */
import { FunctionBuilder } from './assembler.js';
import { type ExpPairLocals, emitExpPair, expPairLocals, loadF32 } from './exp.js';

const F32 = { align: 2, offset: 0 };
const F64 = { align: 3, offset: 0 };

/**
 * row[j] = expForFloat32(f64(src[j]) − m) for the row at `src` (colBytes bytes of float32), two at a
 * time with `m` splatted in `mv`: an odd row's extra lane reads the float after the row (the next
 * row's, or the region after) and writes one f64 past the row, which `row` must have room for; that
 * value is never used.
 */
function emitRowExps(
  f: FunctionBuilder,
  src: number,
  row: number,
  colBytes: number,
  mv: number,
  j4: number,
  vv: number,
  pair: ExpPairLocals,
): void {
  f.i32(0).set(j4);
  f.loop(() => {
    f.get(row).get(j4).get(j4).add().add(); // store address, under the result
    f.get(src).get(j4).add().simd('v128.load64_zero', F64).simd('f64x2.promote_low_f32x4');
    f.get(mv).simd('f64x2.sub').set(vv);
    emitExpPair(f, vv, pair);
    f.simd('v128.store', F64);
    f.get(j4).i32(8).add().tee(j4).get(colBytes).ltU().brIf(0);
  });
}

/**
 * Per row r: stats[2r] = max, stats[2r + 1] = Σ exp(x − max) (float64, summed in order); `row` is
 * scratch for one row's exponentials plus one; rows, cols ≥ 1.
 */
export function buildLogStats(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, rows, cols, stats, row, table] = [0, 1, 2, 3, 4, 5];
  const r = f.local('i32');
  const j4 = f.local('i32');
  const colBytes = f.local('i32');
  const m = f.local('f64');
  const v = f.local('f64');
  const s = f.local('f64');
  const mv = f.local('v128');
  const vv = f.local('v128');
  const pair = expPairLocals(f, table);
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
    f.get(m).simd('f64x2.splat').set(mv);
    emitRowExps(f, x, row, colBytes, mv, j4, vv, pair);
    f.f64(0).set(s).i32(0).set(j4);
    f.loop(() => {
      f.get(s).get(row).get(j4).get(j4).add().add().scalar('f64.load', F64).scalar('f64.add').set(s);
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

/**
 * out = g − f32(f32(exp(y))·s) per row, s = f32(Σ_row g), rounded to float32: `cpuLogSoftmaxVjp`'s
 * float32 loop — the row sum in its (cpuSum's) order of four float64 accumulators, then the same
 * float64 operations and float32 roundings in the same order. rows, cols ≥ 1.
 */
export function buildLogVjp(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [y, g, rows, cols, out, row, table] = [0, 1, 2, 3, 4, 5, 6];
  const r = f.local('i32');
  const j4 = f.local('i32');
  const colBytes = f.local('i32');
  const quadBytes = f.local('i32'); // bytes of the row's whole groups of four
  const sr = f.local('f64');
  const acc = [f.local('f64'), f.local('f64'), f.local('f64'), f.local('f64')];
  const zero = f.local('v128'); // exp(y − 0): y itself
  const vv = f.local('v128');
  const pair = expPairLocals(f, table);
  f.f64(0).simd('f64x2.splat').set(zero);
  const addTo = (a: number, off: number): void => {
    f.get(a).get(g).get(j4).add().scalar('f32.load', { align: 2, offset: off });
    f.scalar('f64.promote_f32').scalar('f64.add').set(a);
  };
  f.get(cols).i32(4).mul().set(colBytes);
  f.get(cols).i32(2).scalar('i32.shr_u').i32(16).mul().set(quadBytes);
  f.i32(0).set(r);
  f.loop(() => {
    for (const a of acc) f.f64(0).set(a);
    f.i32(0).set(j4);
    f.get(quadBytes).ifThen(() => {
      f.loop(() => {
        for (let q = 0; q < 4; q++) addTo(acc[q], 4 * q);
        f.get(j4).i32(16).add().tee(j4).get(quadBytes).ltU().brIf(0);
      });
    });
    f.get(j4)
      .get(colBytes)
      .ltU()
      .ifThen(() => {
        f.loop(() => {
          addTo(acc[0], 0);
          f.get(j4).i32(4).add().tee(j4).get(colBytes).ltU().brIf(0);
        });
      });
    // s = f32(0 + ((a0 + a1) + (a2 + a3)))
    f.f64(0).get(acc[0]).get(acc[1]).scalar('f64.add').get(acc[2]).get(acc[3]).scalar('f64.add');
    f.scalar('f64.add').scalar('f64.add');
    f.scalar('f32.demote_f64').scalar('f64.promote_f32').set(sr);
    emitRowExps(f, y, row, colBytes, zero, j4, vv, pair);
    f.i32(0).set(j4);
    f.loop(() => {
      f.get(out).get(j4).add(); // store address, under the result
      loadF32(f, g, j4);
      f.get(row).get(j4).get(j4).add().add().scalar('f64.load', F64);
      f.scalar('f32.demote_f64').scalar('f64.promote_f32').get(sr).scalar('f64.mul');
      f.scalar('f32.demote_f64').scalar('f64.promote_f32').scalar('f64.sub');
      f.scalar('f32.demote_f64').scalar('f32.store', F32);
      f.get(j4).i32(4).add().tee(j4).get(colBytes).ltU().brIf(0);
    });
    f.addLocal(y, colBytes).addLocal(g, colBytes).addLocal(out, colBytes);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}
