/**
 * The float32 softmax backward passes as WebAssembly functions, four lanes at a time. Each row's sum
 * (Σ g⊙y for softmax, Σ g for log-softmax) runs in two f32x4 accumulators (eight partial sums, so
 * the adds' latency chain is halved), the partial last group masked so entries past the row add
 * nothing, combined as (a + b) then (s0 + s2) + (s1 + s3); then one pass writes the row:
 * y ⊙ (g − dot), or g − exp(y)·s (f32x4-exp.ts). The last group of a row spills into the next row,
 * which overwrites it; the caller leaves 16 bytes of room after each region.
 */
import { FunctionBuilder } from '../wasm/assembler.js';
import { F32x4Exp } from './f32x4-exp.js';
import { FUSED_EXP } from './fused-madd.js';
import { F32x4Lanes } from './f32x4-lanes.js';
import { eachQuadSpilling, rowQuadLocals } from './row-quads.js';
import { V128 } from './softmax-rows.js';

/**
 * Emits sv = Σ term over the row (every lane), term(offset) pushing one group's four terms at byte
 * offset j + offset; two accumulators a (sv) and b over pairs of whole groups, the partial group
 * masked.
 */
function emitRowSum(
  l: F32x4Lanes,
  colBytes: number,
  sv: number,
  b: number,
  pairBytes: number,
  term: (offset: number) => void,
  q: ReturnType<typeof rowQuadLocals>,
): void {
  const f = l.f;
  const zero = l.constant(0);
  f.get(zero).set(sv).get(zero).set(b);
  // whole pairs of groups: j < full & −32
  f.get(colBytes).i32(-32).op(0x71).set(pairBytes); // i32.and
  f.i32(0).set(q.j);
  f.get(pairBytes).ifThen(() => {
    f.loop(() => {
      for (const [acc, offset] of [
        [sv, 0],
        [b, 16],
      ]) {
        f.get(acc);
        term(offset);
        l.op('f32x4.add');
        f.set(acc);
      }
      f.get(q.j).i32(32).add().tee(q.j).get(pairBytes).ltU().brIf(0);
    });
  });
  // one more whole group, then the partial one: eachRowQuad from j = pairBytes
  f.get(colBytes).i32(-16).op(0x71).set(q.full); // i32.and
  f.get(q.j)
    .get(q.full)
    .ltU()
    .ifThen(() => {
      f.get(sv);
      term(0);
      l.op('f32x4.add');
      f.set(sv);
      f.get(q.j).i32(16).add().set(q.j);
    });
  f.get(q.j)
    .get(colBytes)
    .ltU()
    .ifThen(() => {
      l.tailMask(q.mask, () => f.get(colBytes).get(q.j).sub());
      f.get(b);
      term(0);
      f.get(q.mask).simd('v128.and');
      l.op('f32x4.add');
      f.set(b);
    });
  f.get(sv).get(b);
  l.op('f32x4.add');
  f.set(sv);
  l.horizontal(sv, 'f32x4.add');
}

/** The y and g parameters' indices in the VJP functions. */
const [Y, G] = [0, 1];

/** Pushes the group of four at byte offset j + offset of the region whose address is parameter `base`. */
type GroupLoad = (base: number, offset: number) => void;

/**
 * A (y, g, rows, cols, out) row function: per row, sv = Σ `term` over the row (emitRowSum), then for
 * each group `write` pushes its four outputs (its loads at offset 0, sv in every lane, `exp` and the
 * scratch local `v` at hand). rows, cols ≥ 1.
 */
function buildRowVjp(
  term: (l: F32x4Lanes, load: GroupLoad, offset: number) => void,
  write: (l: F32x4Lanes, load: GroupLoad, sv: number, exp: F32x4Exp, v: number) => void,
): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32']);
  const [rows, cols, out] = [2, 3, 4];
  const l = new F32x4Lanes(f);
  const exp = new F32x4Exp(l, FUSED_EXP);
  l.constant(0);
  const q = rowQuadLocals(l);
  const [r, colBytes, pairBytes] = [f.local('i32'), f.local('i32'), f.local('i32')];
  const [sv, b, v] = [f.local('v128'), f.local('v128'), f.local('v128')];
  const load: GroupLoad = (base, offset) => {
    f.get(base)
      .get(q.j)
      .add()
      .simd('v128.load', { ...V128, offset });
  };
  f.get(cols).i32(4).mul().set(colBytes);
  f.i32(0).set(r);
  f.loop(() => {
    emitRowSum(l, colBytes, sv, b, pairBytes, (offset) => term(l, load, offset), q);
    eachQuadSpilling(f, q.j, colBytes, () => {
      f.get(out).get(q.j).add(); // store address, under the value
      write(l, load, sv, exp, v);
      f.simd('v128.store', V128);
    });
    f.addLocal(Y, colBytes).addLocal(G, colBytes).addLocal(out, colBytes);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}

/** vjp(y, g, rows, cols, out): out = y ⊙ (g − Σ_row g⊙y). rows, cols ≥ 1. */
export const buildSoftmaxVjp = (): FunctionBuilder =>
  buildRowVjp(
    (l, load, offset) => {
      load(G, offset);
      load(Y, offset);
      l.op('f32x4.mul');
    },
    (l, load, sv) => {
      load(Y, 0);
      load(G, 0);
      l.f.get(sv);
      l.op('f32x4.sub').op('f32x4.mul');
    },
  );

/** logVjp(y, g, rows, cols, out): out = g − exp(y)·Σ_row g. rows, cols ≥ 1. */
export const buildLogSoftmaxVjp = (): FunctionBuilder =>
  buildRowVjp(
    (_l, load, offset) => load(G, offset),
    (l, load, sv, exp, v) => {
      load(G, 0);
      load(Y, 0);
      l.f.set(v);
      exp.emit(v);
      l.f.get(sv);
      l.op('f32x4.mul').op('f32x4.sub');
    },
  );
