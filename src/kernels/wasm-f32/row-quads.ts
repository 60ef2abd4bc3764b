/**
 * Loops over one row of float32 [rows, cols] data, four columns (one quad, 16 bytes) at a time, for
 * kernels whose rows are short (LayerNorm's 64 columns): the row's byte offset is the local `j`, so
 * a body reads `base + j` with a constant memarg offset.
 *
 * - `reduce` sums a row: blocks of four quads into four independent accumulator slots (the adds of
 *   one slot form a dependency chain a quarter as long as the row), then single quads into slot 0,
 *   then the partial quad (cols mod 4 columns) into slot 1, its lanes past the row masked to zero.
 * - `each` visits every quad, the partial one whole: its loads read up to 12 bytes past the row and
 *   its stores write them. Rows run in order, so what a store writes past row r is the start of row
 *   r + 1's output, rewritten when that row runs; past the last row it lands in the slack that the
 *   caller leaves after every region (16 bytes).
 */
import type { FunctionBuilder } from '../wasm/assembler.js';
import { tailMask } from './f32x4-lanes.js';

/** A quad's body: the constant byte offset from `j`, its accumulator slot (0–3), and whether it is the partial quad. */
export type QuadBody = (offset: number, slot: number, partial: boolean) => void;

export class RowQuads {
  /** i32 local: the current quad's byte offset in the row. */
  readonly j: number;
  /** i32 local: bytes of the row's whole blocks of four quads. */
  private readonly blockBytes: number;
  /** i32 local: bytes of the row's whole quads. */
  private readonly fullBytes: number;
  /** i32 local: bytes of every quad, the partial one included (4·⌈cols/4⌉). */
  readonly allBytes: number;
  /** i32 local: the partial quad's column count (cols mod 4). */
  private readonly tail: number;
  /** v128 local: ones in the partial quad's lanes, zero past the row. */
  readonly mask: number;

  constructor(
    private readonly f: FunctionBuilder,
    cols: number,
  ) {
    this.j = f.local('i32');
    this.blockBytes = f.local('i32');
    this.fullBytes = f.local('i32');
    this.allBytes = f.local('i32');
    this.tail = f.local('i32');
    this.mask = f.local('v128');
    f.get(cols).i32(4).scalar('i32.shr_u').i32(64).mul().set(this.blockBytes);
    f.get(cols).i32(2).scalar('i32.shr_u').i32(16).mul().set(this.fullBytes);
    f.get(cols).i32(3).add().i32(2).scalar('i32.shr_u').i32(16).mul().set(this.allBytes);
    // tail = cols − 4·⌊cols/4⌋ (fullBytes / 4 columns are whole)
    f.get(cols).get(this.fullBytes).i32(2).scalar('i32.shr_u').sub().set(this.tail);
    tailMask(f, this.tail);
    f.set(this.mask);
  }

  /** Emits one row's reduction: `body` adds a quad into its slot. */
  reduce(body: QuadBody): void {
    const { f, j } = this;
    f.i32(0).set(j);
    f.get(this.blockBytes).ifThen(() =>
      f.loop(() => {
        for (let s = 0; s < 4; s++) body(16 * s, s, false);
        f.get(j).i32(64).add().tee(j).get(this.blockBytes).ltU().brIf(0);
      }),
    );
    f.get(j)
      .get(this.fullBytes)
      .ltU()
      .ifThen(() =>
        f.loop(() => {
          body(0, 0, false);
          f.get(j).i32(16).add().tee(j).get(this.fullBytes).ltU().brIf(0);
        }),
      );
    f.get(this.tail).ifThen(() => body(0, 1, true));
  }

  /** Emits a loop over every quad of the row (cols ≥ 1), the partial one whole. */
  each(body: (offset: number) => void): void {
    const { f, j } = this;
    f.i32(0).set(j);
    f.loop(() => {
      body(0);
      f.get(j).i32(16).add().tee(j).get(this.allBytes).ltU().brIf(0);
    });
  }
}
