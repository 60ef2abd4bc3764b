/**
 * The float32 LayerNorm functions, as WebAssembly: forward (with or without gain and bias) and
 * backward over [rows, cols] float32 rows, f32x4 lanes along each row (row-quads.ts). Addresses are in
 * bytes; rows, cols ≥ 1; every region is followed by 16 bytes the partial quad may touch.
 *
 * Forward, per row, everything in float32: mean = Σx / cols, then var = Σd² / cols over
 * d = x − mean (two passes, as the CPU reference; no cancellation of a large mean's square) with
 * the corrected two-pass algorithm's refinement (Chan, Golub & LeVeque 1983): the second pass also
 * sums d, whose mean is the first mean's rounding error, and moves the mean and Σd² by it;
 * rstd = 1 / √(var + eps); x̂ = (x − mean)·rstd; y = x̂·gain + bias (multiply, then add: no fused
 * multiply-add, so the same bits on every engine).
 *
 * Dividing by cols multiplies by 1/cols rounded to float32: under a ulp more error, and a division
 * fewer in each row's serial chain (kernel alone, [2048, 64]: 97 → 85 µs forward, at load ~12).
 *
 * Backward, per row: ĝ = g·gain; mean(ĝ) and mean(ĝ·x̂) over f32x4 partial sums;
 * dx = rstd·((ĝ − mean(ĝ)) − x̂·mean(ĝ·x̂)). The column sums dgain = Σ_rows g·x̂ and dbias = Σ_rows g
 * accumulate in float32 quads over blocks of BLOCK_ROWS rows, each block's sums then added into
 * float64 totals: float32 adds only ever sum BLOCK_ROWS terms, so the error stays that of a short
 * float32 sum however many rows there are.
 */
import { FunctionBuilder } from '../wasm/assembler.js';
import { F32x4Lanes } from './f32x4-lanes.js';
import { type RowQuadLocals, eachQuadSpilling, eachRowQuad, rowQuadLocals } from './row-quads.js';

/** Rows whose column sums are added in float32 before joining the float64 totals. */
export const BLOCK_ROWS = 32;

const V = { align: 2, offset: 0 };
const at = (offset: number): { align: number; offset: number } => ({ align: 2, offset });
const F64V = (offset: number): { align: number; offset: number } => ({ align: 3, offset });
const F32 = { align: 2, offset: 0 };

/** Pushes the quad at `base + j + offset`. */
function load(f: FunctionBuilder, base: number, q: RowQuadLocals, offset: number): void {
  f.get(base).get(q.j).add().simd('v128.load', at(offset));
}

/** Pushes (a0 + a1) + (a2 + a3), summed across lanes into every lane. */
function joinSlots(l: F32x4Lanes, a: readonly number[], scratch: number): void {
  const { f } = l;
  f.get(a[0]).get(a[1]).simd('f32x4.add').get(a[2]).get(a[3]).simd('f32x4.add').simd('f32x4.add');
  f.set(scratch);
  l.horizontal(scratch, 'f32x4.add');
  f.get(scratch);
}

/**
 * What both builders set up before their row loop: the F32x4Lanes, `colBytes` (cols·4) and `invCols`
 * (1/cols in every lane), and the row loops over a row (row-quads.ts): `reduce` visits the quads with
 * four accumulator slots for a block's four quads, slot 0 for single quads and slot 1 for the partial
 * quad (masked by the caller); `each` visits every quad, the partial one whole.
 */
function rowSetup(f: FunctionBuilder, cols: number) {
  const l = new F32x4Lanes(f);
  const colBytes = f.local('i32');
  const invCols = f.local('v128');
  const q = rowQuadLocals(l);
  f.get(cols).i32(4).mul().set(colBytes);
  f.f64(1).get(cols).scalar('f64.convert_i32_s').scalar('f64.div');
  l.splatF64();
  f.set(invCols);
  return {
    l,
    q,
    colBytes,
    invCols,
    reduce: (body: (offset: number, slot: number, partial: boolean) => void): void =>
      eachRowQuad(l, q, colBytes, (tail, offset) => body(offset, tail ? 1 : offset / 16, tail), 4),
    each: (body: (offset: number) => void): void => eachQuadSpilling(f, q.j, colBytes, () => body(0)),
  };
}

function zeroSlots(f: FunctionBuilder, a: readonly number[]): void {
  for (const l of a) f.v128Zero().set(l);
}

/** `a[slot] += value` (the value pushed by `push`), masked to the row on the partial quad. */
function accumulate(
  f: FunctionBuilder,
  q: RowQuadLocals,
  a: number,
  partial: boolean,
  push: () => void,
): void {
  f.get(a);
  push();
  if (partial) f.get(q.mask).simd('v128.and');
  f.simd('f32x4.add').set(a);
}

/**
 * forward(x, rows, cols, eps, gain, bias, y, xhat, rstd) when `affine`, else
 * normalize(x, rows, cols, eps, xhat, rstd).
 */
export function buildForward(affine: boolean): FunctionBuilder {
  const f = new FunctionBuilder(
    affine
      ? ['i32', 'i32', 'i32', 'f64', 'i32', 'i32', 'i32', 'i32', 'i32']
      : ['i32', 'i32', 'i32', 'f64', 'i32', 'i32'],
  );
  const [x, rows, cols, eps] = [0, 1, 2, 3];
  const [gain, bias, y, xhat, rstd] = affine ? [4, 5, 6, 7, 8] : [-1, -1, -1, 4, 5];
  const r = f.local('i32');
  const a = [0, 1, 2, 3].map(() => f.local('v128'));
  const c = [0, 1, 2, 3].map(() => f.local('v128'));
  const [mean, inv, epsV, one, s, h, d] = [0, 1, 2, 3, 4, 5, 6].map(() => f.local('v128'));
  const { l, q, colBytes, invCols, reduce, each } = rowSetup(f, cols);
  f.get(eps);
  l.splatF64();
  f.set(epsV);
  f.f64(1);
  l.splatF64();
  f.set(one);
  f.i32(0).set(r);
  f.loop(() => {
    zeroSlots(f, a);
    reduce((off, slot, partial) => accumulate(f, q, a[slot], partial, () => load(f, x, q, off)));
    joinSlots(l, a, s);
    f.get(invCols).simd('f32x4.mul');
    f.set(mean);
    zeroSlots(f, a);
    zeroSlots(f, c);
    reduce((off, slot, partial) => {
      load(f, x, q, off);
      f.get(mean).simd('f32x4.sub').set(h);
      accumulate(f, q, c[slot], partial, () => f.get(h));
      accumulate(f, q, a[slot], partial, () => f.get(h).get(h).simd('f32x4.mul'));
    });
    // The first pass's mean is off by the float32 sum's rounding; Σ(x − mean) / cols measures it
    // (the corrected two-pass algorithm): mean += Σd / cols and Σd² −= (Σd)² / cols.
    joinSlots(l, c, s);
    f.tee(d).get(invCols).simd('f32x4.mul');
    f.tee(h).get(mean).simd('f32x4.add').set(mean);
    // inv = 1 / √(max(Σd² − Σd·(Σd / cols), 0) / cols + eps), in every lane; rstd[r] = inv
    f.get(one);
    joinSlots(l, a, s);
    f.get(d).get(h).simd('f32x4.mul').simd('f32x4.sub').v128Zero();
    l.op('f32x4.max');
    f.get(invCols).simd('f32x4.mul');
    f.get(epsV).simd('f32x4.add');
    l.op('f32x4.sqrt');
    l.op('f32x4.div');
    f.set(inv);
    f.get(rstd).get(inv);
    l.extractLane(0);
    f.scalar('f32.store', F32);
    each((off) => {
      load(f, x, q, off);
      f.get(mean).simd('f32x4.sub').get(inv).simd('f32x4.mul').set(h);
      f.get(xhat).get(q.j).add().get(h).simd('v128.store', at(off));
      if (affine) {
        f.get(y).get(q.j).add().get(h);
        load(f, gain, q, off);
        f.simd('f32x4.mul');
        load(f, bias, q, off);
        f.simd('f32x4.add').simd('v128.store', at(off));
      }
    });
    f.addLocal(x, colBytes).addLocal(xhat, colBytes).addConst(rstd, 4);
    if (affine) f.addLocal(y, colBytes);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}

/**
 * backward(g, xhat, rstd, gain, rows, cols, dx, sgAcc, sbAcc, sgSum, sbSum): sgAcc and sbAcc are
 * float32 [4·⌈cols/4⌉] block accumulators, sgSum and sbSum float64 totals of the same length, all
 * zeroed by the caller; the totals end as Σ_rows g·x̂ and Σ_rows g.
 */
export function buildBackward(): FunctionBuilder {
  const f = new FunctionBuilder([
    'i32',
    'i32',
    'i32',
    'i32',
    'i32',
    'i32',
    'i32',
    'i32',
    'i32',
    'i32',
    'i32',
  ]);
  const [g, xhat, rstd, gain, rows, cols, dx, sgAcc, sbAcc, sgSum, sbSum] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
  ];
  const r = f.local('i32');
  const j2 = f.local('i32');
  const a = [0, 1, 2, 3].map(() => f.local('v128'));
  const b = [0, 1, 2, 3].map(() => f.local('v128'));
  const [gq, hq, gh, mg, mgx, inv, s] = [0, 1, 2, 3, 4, 5, 6].map(() => f.local('v128'));
  const { l, q, colBytes, invCols, reduce, each } = rowSetup(f, cols);
  f.i32(0).set(r);
  f.loop(() => {
    zeroSlots(f, a);
    zeroSlots(f, b);
    reduce((off, slot, partial) => {
      load(f, g, q, off);
      f.set(gq);
      load(f, xhat, q, off);
      f.set(hq);
      f.get(gq);
      load(f, gain, q, off);
      f.simd('f32x4.mul').set(gh);
      accumulate(f, q, a[slot], partial, () => f.get(gh));
      accumulate(f, q, b[slot], partial, () => f.get(gh).get(hq).simd('f32x4.mul'));
      // The column sums take the partial quad unmasked: its lanes past the row are never read.
      f.get(sgAcc).get(q.j).add();
      load(f, sgAcc, q, off);
      f.get(gq).get(hq).simd('f32x4.mul').simd('f32x4.add').simd('v128.store', at(off));
      f.get(sbAcc).get(q.j).add();
      load(f, sbAcc, q, off);
      f.get(gq).simd('f32x4.add').simd('v128.store', at(off));
    });
    joinSlots(l, a, s);
    f.get(invCols).simd('f32x4.mul');
    f.set(mg);
    joinSlots(l, b, s);
    f.get(invCols).simd('f32x4.mul');
    f.set(mgx);
    f.get(rstd).simd('v128.load32_splat', V).set(inv);
    // dx = inv·((g·gain − mean(ĝ)) − x̂·mean(ĝ·x̂))
    each((off) => {
      f.get(dx).get(q.j).add().get(inv);
      load(f, g, q, off);
      load(f, gain, q, off);
      f.simd('f32x4.mul').get(mg).simd('f32x4.sub');
      load(f, xhat, q, off);
      f.get(mgx).simd('f32x4.mul').simd('f32x4.sub').simd('f32x4.mul').simd('v128.store', at(off));
    });
    f.addLocal(g, colBytes).addLocal(xhat, colBytes).addLocal(dx, colBytes).addConst(rstd, 4);
    f.get(r).i32(1).add().tee(r);
    // After every BLOCK_ROWS rows and after the last: totals += block sums; block sums = 0.
    f.i32(BLOCK_ROWS).scalar('i32.rem_u').op(0x45); // i32.eqz
    f.get(r).get(rows).op(0x46); // i32.eq
    f.op(0x72); // i32.or
    f.ifThen(() =>
      each((off) => {
        f.get(q.j).get(q.j).add().set(j2);
        for (const [acc, sum] of [
          [sgAcc, sgSum],
          [sbAcc, sbSum],
        ]) {
          load(f, acc, q, off);
          f.set(s);
          for (const half of [0, 1]) {
            f.get(sum).get(j2).add();
            f.get(sum)
              .get(j2)
              .add()
              .simd('v128.load', F64V(2 * off + 16 * half));
            f.get(s);
            if (half === 1) {
              f.get(s);
              l.shuffle32([2, 3, 0, 1]);
            }
            f.simd('f64x2.promote_low_f32x4')
              .simd('f64x2.add')
              .simd('v128.store', F64V(2 * off + 16 * half));
          }
          f.get(acc).get(q.j).add().v128Zero().simd('v128.store', at(off));
        }
      }),
    );
    f.get(r).get(rows).ltU().brIf(0);
  });
  return f;
}
