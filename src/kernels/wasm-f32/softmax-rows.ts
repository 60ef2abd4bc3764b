/**
 * The float32 softmax forward passes as WebAssembly functions, four lanes at a time. Per row: the max
 * in an f32x4 of running maxima (pmax: a NaN entry never wins, as in the CPU reference), combined
 * across lanes at the end; e = exp(x − max) (f32x4-exp.ts, its x ≤ 0 form) summed in an f32x4 of partial sums,
 * combined (s0 + s2) + (s1 + s3); then e·(1/s) — one float32 division per row, one multiply per
 * entry. The masked lanes of a causal row and the lanes past a row's end are replaced by 0 before the
 * exponential and after it, so entries that are not part of the row (whatever they hold) never reach
 * the max or the sum, and a causal row's masked entries are exactly 0 even when the row is NaN.
 * Log-softmax is two passes around a JavaScript loop (WebAssembly has no logarithm): `logStats`
 * stores each row's max m and sum s; the caller replaces s by log s; `logOut` writes (x − m) − log s.
 */
import { FunctionBuilder } from '../wasm/assembler.js';
import { F32x4Exp } from './f32x4-exp.js';
import { FUSED_EXP } from './fused-madd.js';
import { F32x4Lanes } from './f32x4-lanes.js';
import { type RowQuadLocals, eachQuadSpilling, eachRowQuad, rowQuadLocals } from './row-quads.js';

/** Memory argument of the (possibly unaligned) v128 loads and stores; align is log2 bytes. */
export const V128 = { align: 2, offset: 0 };
const F32 = { align: 2, offset: 0 };
/**
 * Groups of four per iteration of the row loops: four independent exponentials per iteration ran
 * 1.3–1.4× faster than one (bench by hand, 2-vCPU EPYC under load), and the max and scaling loops
 * spend half as many instructions per group on the loop itself.
 */
const UNROLL = 4;

/**
 * Emits the max of the row at local `x` (wb bytes) into the v128 local `mv`, in every lane: −Inf
 * for a row of NaNs (never greater), NaN never chosen.
 */
function emitRowMax(l: F32x4Lanes, q: RowQuadLocals, x: number, wb: number, mv: number, v: number): void {
  const f = l.f;
  f.get(l.constant(-Infinity)).set(mv);
  eachRowQuad(
    l,
    q,
    wb,
    (tail, offset) => {
      f.get(x)
        .get(q.j)
        .add()
        .simd('v128.load', { ...V128, offset })
        .set(v);
      f.get(mv).get(v);
      if (tail) f.get(l.constant(-Infinity)).get(q.mask).simd('v128.bitselect');
      l.op('f32x4.pmax');
      f.set(mv);
    },
    UNROLL,
  );
  l.horizontal(mv, 'f32x4.pmax');
}

/**
 * Emits sv = Σ exp(x − mv) over the row (every lane), storing each exponential at `out` when given
 * (lanes past the row stored as 0).
 */
function emitExpSum(
  l: F32x4Lanes,
  q: RowQuadLocals,
  exp: F32x4Exp,
  x: number,
  wb: number,
  mv: number,
  sv: number,
  d: number,
  out: number | null,
): void {
  const f = l.f;
  const zero = l.constant(0);
  f.get(zero).set(sv);
  eachRowQuad(
    l,
    q,
    wb,
    (tail, offset) => {
      if (out !== null) f.get(out).get(q.j).add(); // store address, under the value
      f.get(x)
        .get(q.j)
        .add()
        .simd('v128.load', { ...V128, offset })
        .get(mv);
      l.op('f32x4.sub');
      if (tail) f.get(zero).get(q.mask).simd('v128.bitselect');
      f.set(d);
      exp.emitNonPositive(d);
      if (tail) f.get(q.mask).simd('v128.and');
      if (out !== null)
        f.tee(d)
          .simd('v128.store', { ...V128, offset })
          .get(d);
      f.get(sv);
      l.op('f32x4.add');
      f.set(sv);
    },
    UNROLL,
  );
  l.horizontal(sv, 'f32x4.add');
}

/**
 * softmax(x, rows, cols, out, causal): out = softmax of each row (causal: row r of each block of
 * `cols` rows covers columns 0..r mod cols, zeros after). rows, cols ≥ 1; x and out need 16 bytes of
 * room after their rows.
 */
export function buildSoftmaxRows(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, rows, cols, out, causal] = [0, 1, 2, 3, 4];
  const l = new F32x4Lanes(f);
  const exp = new F32x4Exp(l, FUSED_EXP);
  const [zero, one] = [l.constant(0), l.constant(1), l.constant(-Infinity)];
  const q = rowQuadLocals(l);
  const [r, ri, wb, colBytes] = [f.local('i32'), f.local('i32'), f.local('i32'), f.local('i32')];
  const [mv, sv, v] = [f.local('v128'), f.local('v128'), f.local('v128')];
  f.get(cols).i32(4).mul().set(colBytes);
  f.i32(0).set(r).i32(0).set(ri);
  f.loop(() => {
    // wb = (ri + 1)·4 when causal, else the whole row
    f.get(ri).i32(1).add().i32(4).mul().get(colBytes).get(causal).scalar('select').set(wb);
    emitRowMax(l, q, x, wb, mv, v);
    emitExpSum(l, q, exp, x, wb, mv, sv, v, out);
    f.get(one).get(sv);
    l.op('f32x4.div');
    f.set(sv);
    eachRowQuad(
      l,
      q,
      wb,
      (tail, offset) => {
        f.get(out).get(q.j).add();
        f.get(out)
          .get(q.j)
          .add()
          .simd('v128.load', { ...V128, offset })
          .get(sv);
        l.op('f32x4.mul');
        if (tail) f.get(q.mask).simd('v128.and');
        f.simd('v128.store', { ...V128, offset });
      },
      UNROLL,
    );
    // zeros from the first group past the row's last to the end of the row (causal rows)
    f.get(wb).i32(15).add().i32(-16).op(0x71).tee(q.j); // i32.and
    f.get(colBytes)
      .ltU()
      .ifThen(() => {
        f.loop(() => {
          f.get(out).get(q.j).add().get(zero).simd('v128.store', V128);
          f.get(q.j).i32(16).add().tee(q.j).get(colBytes).ltU().brIf(0);
        });
      });
    f.addLocal(x, colBytes).addLocal(out, colBytes);
    f.get(ri).i32(1).add().get(cols).scalar('i32.rem_u').set(ri);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}

/**
 * logStats(x, rows, cols, stats): stats[2r] = the row's max m, stats[2r + 1] = Σ exp(x − m), float32.
 * rows, cols ≥ 1; x needs 16 bytes of room after its rows.
 */
export function buildLogStats(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32']);
  const [x, rows, cols, stats] = [0, 1, 2, 3];
  const l = new F32x4Lanes(f);
  const exp = new F32x4Exp(l, FUSED_EXP);
  l.constant(0);
  l.constant(-Infinity);
  const q = rowQuadLocals(l);
  const [r, colBytes] = [f.local('i32'), f.local('i32')];
  const [mv, sv, v] = [f.local('v128'), f.local('v128'), f.local('v128')];
  f.get(cols).i32(4).mul().set(colBytes);
  f.i32(0).set(r);
  f.loop(() => {
    emitRowMax(l, q, x, colBytes, mv, v);
    emitExpSum(l, q, exp, x, colBytes, mv, sv, v, null);
    for (const [value, at] of [
      [mv, 0],
      [sv, 4],
    ]) {
      f.get(stats).get(value).op(0xfd, 0x1f, 0); // f32x4.extract_lane 0
      f.scalar('f32.store', { ...F32, offset: at });
    }
    f.addConst(stats, 8).addLocal(x, colBytes);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}

/**
 * logOut(x, rows, cols, stats, out): out = (x − m) − ls per row, m = stats[2r], ls = stats[2r + 1]
 * (log s, written there by the caller). rows, cols ≥ 1; x and out need 16 bytes of room after their
 * rows (the last group of a row spills into the next, which overwrites it).
 */
export function buildLogOut(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, rows, cols, stats, out] = [0, 1, 2, 3, 4];
  const l = new F32x4Lanes(f);
  const [r, j, colBytes] = [f.local('i32'), f.local('i32'), f.local('i32')];
  const [mv, lv] = [f.local('v128'), f.local('v128')];
  f.get(cols).i32(4).mul().set(colBytes);
  f.i32(0).set(r);
  f.loop(() => {
    f.get(stats).simd('v128.load32_splat', F32).set(mv);
    f.get(stats)
      .simd('v128.load32_splat', { ...F32, offset: 4 })
      .set(lv);
    eachQuadSpilling(f, j, colBytes, () => {
      f.get(out).get(j).add();
      f.get(x).get(j).add().simd('v128.load', V128).get(mv);
      l.op('f32x4.sub');
      f.get(lv);
      l.op('f32x4.sub');
      f.simd('v128.store', V128);
    });
    f.addConst(stats, 8).addLocal(x, colBytes).addLocal(out, colBytes);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}
