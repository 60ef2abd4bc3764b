/**
 * The loop shape of the float32 row kernels: a row of `wb` bytes walked in groups of four floats
 * (16 bytes) — the whole groups first, then the partial last group once, with a lane mask of the
 * lanes that hold the row. The partial group reads (and may write) up to 12 bytes past the row: into
 * the next row, which is processed after it, or into the padding the caller leaves after its regions.
 */
import type { FunctionBuilder } from '../wasm/assembler.js';
import type { LaneOps } from './lane-ops.js';

export interface RowQuadLocals {
  /** The i32 byte offset in the row, advanced by 16 per whole group. */
  j: number;
  /** i32: the bytes of the row's whole groups (wb & −16). */
  full: number;
  /** i32: the bytes of the row's whole blocks of unrolled groups. */
  block: number;
  /** v128: the partial group's lane mask, set before `body(true)`. */
  mask: number;
  /** v128: the lane byte offsets 0, 4, 8, 12 (LaneOps.laneOffsets). */
  offsets: number;
}

export function rowQuadLocals(l: LaneOps): RowQuadLocals {
  return {
    j: l.f.local('i32'),
    full: l.f.local('i32'),
    block: l.f.local('i32'),
    mask: l.f.local('v128'),
    offsets: l.laneOffsets(),
  };
}

/**
 * Emits `body(false, offset)` for each whole group at byte offset j + offset < full, then
 * `body(true, 0)` for the partial group at j = full when the row (wb bytes, the i32 local) does not
 * end there; `q.mask` holds its lanes then. With `unroll` > 1 the whole groups run `unroll` to an
 * iteration first (offsets 0, 16, …: independent work for the CPU to overlap), then one at a time.
 * Sets q.full from wb. After it, j = full.
 */
export function eachRowQuad(
  l: LaneOps,
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
      .op(0x71) // i32.and: the bytes of whole blocks of `unroll` groups
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
      l.tailMask(q.mask, q.offsets, () => f.get(wb).get(q.j).sub());
      body(true, 0);
    });
}

/**
 * Emits `body()` for every group of four that starts inside the row (j = 0, 16, … < wb, wb ≥ 1): the
 * last group may reach past the row, for kernels whose extra lanes are harmless and overwritten later.
 */
export function eachQuadSpilling(f: FunctionBuilder, j: number, wb: number, body: () => void): void {
  f.i32(0).set(j);
  f.loop(() => {
    body();
    f.get(j).i32(16).add().tee(j).get(wb).ltU().brIf(0);
  });
}
