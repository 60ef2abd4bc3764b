/**
 * The loop shapes of the float32 row kernels (LayerNorm, the softmax family): a row of `wb` bytes (an
 * i32 local, so rows may differ in width, as a causal softmax's do) walked in quads of four floats
 * (16 bytes), the quad's byte offset in the row in the local `j`, so a body reads `base + j` with a
 * constant memarg offset.
 *
 * - `eachRowQuad` visits the whole quads first (`unroll` to an iteration: independent work for the CPU
 *   to overlap, e.g. one accumulator per unrolled quad so each dependency chain is a fraction of the
 *   row), then the partial last quad once, with a lane mask of the lanes that hold the row.
 * - `eachQuadSpilling` visits every quad, the partial one whole: its loads read up to 12 bytes past
 *   the row and its stores write them. Rows run in order, so what a store writes past row r is the
 *   start of row r + 1's output, rewritten when that row runs; past the last row it lands in the
 *   slack that the caller leaves after every region (16 bytes).
 */
import type { FunctionBuilder } from '../wasm/assembler.js';
import type { F32x4Lanes } from './f32x4-lanes.js';

export interface RowQuadLocals {
  /** The i32 byte offset in the row, advanced by 16 per whole quad. */
  j: number;
  /** i32: the bytes of the row's whole quads (wb & −16). */
  full: number;
  /** i32: the bytes of the row's whole blocks of unrolled quads. */
  block: number;
  /** v128: the partial quad's lane mask, set before `body(true)`. */
  mask: number;
}

export function rowQuadLocals(l: F32x4Lanes): RowQuadLocals {
  return {
    j: l.f.local('i32'),
    full: l.f.local('i32'),
    block: l.f.local('i32'),
    mask: l.f.local('v128'),
  };
}

/**
 * Emits `body(false, offset)` for each whole quad at byte offset j + offset < full, then
 * `body(true, 0)` for the partial quad at j = full when the row (wb bytes, the i32 local) does not
 * end there; `q.mask` holds its lanes then. With `unroll` > 1 the whole quads run `unroll` to an
 * iteration first (offsets 0, 16, …), then one at a time. Sets q.full from wb. After it, j = full.
 */
export function eachRowQuad(
  l: F32x4Lanes,
  q: RowQuadLocals,
  wb: number,
  body: (tail: boolean, offset: number) => void,
  unroll = 1,
): void {
  const f: FunctionBuilder = l.f;
  f.get(wb).i32(-16).op(0x71).set(q.full); // i32.and
  f.i32(0).set(q.j);
  if (unroll > 1) {
    f.get(wb)
      .i32(-16 * unroll)
      .op(0x71) // i32.and: the bytes of whole blocks of `unroll` quads
      .tee(q.block)
      .ifThen(() => {
        f.loop(() => {
          for (let u = 0; u < unroll; u++) body(false, 16 * u);
          f.get(q.j)
            .i32(16 * unroll)
            .add()
            .tee(q.j)
            .get(q.block)
            .ltU()
            .brIf(0);
        });
      });
  }
  f.get(q.j)
    .get(q.full)
    .ltU()
    .ifThen(() => {
      f.loop(() => {
        body(false, 0);
        f.get(q.j).i32(16).add().tee(q.j).get(q.full).ltU().brIf(0);
      });
    });
  f.get(q.j)
    .get(wb)
    .ltU()
    .ifThen(() => {
      l.tailMask(q.mask, () => f.get(wb).get(q.j).sub());
      body(true, 0);
    });
}

/**
 * Emits `body()` for every quad that starts inside the row (j = 0, 16, … < wb, wb ≥ 1): the last
 * quad may reach past the row, for kernels whose extra lanes are harmless and overwritten later.
 */
export function eachQuadSpilling(f: FunctionBuilder, j: number, wb: number, body: () => void): void {
  f.i32(0).set(j);
  f.loop(() => {
    body();
    f.get(j).i32(16).add().tee(j).get(wb).ltU().brIf(0);
  });
}
