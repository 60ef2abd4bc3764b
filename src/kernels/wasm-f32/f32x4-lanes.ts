/**
 * What every float32 SIMD kernel's code generation shares (GELU, LayerNorm, the softmax family and
 * the exponential, f32x4-exp.ts, tanh and Adam): the SIMD instructions the assembler's table lacks, by name;
 * constants, splatted into v128 locals once before the loops or pushed as v128.const where used
 * (from their float32 bit patterns, so a constant is exactly the float32 it names); lane shuffles; the
 * horizontal max and sum that end a row's f32x4 reduction in a fixed order (so results are the same
 * on every run) with the result in every lane (per-row statistics stay in v128 locals: the assembler
 * declares no float32 scalar locals); and the lane mask of a row's last, partial group of four.
 */
import { type FunctionBuilder, type SimdOp, uleb } from '../wasm/assembler.js';

/** SIMD sub-opcodes the assembler's table lacks (after the 0xFD prefix). */
export const LANE_OPS = {
  'i8x16.shuffle': 0x0d,
  /** Takes the lane index as an immediate (`extractLane`). */
  'f32x4.extract_lane': 0x1f,
  'i32x4.gt_s': 0x3b,
  /** Lane mask a < b. */
  'f32x4.lt': 0x43,
  /** Arithmetic shift right by an i32 (popped after the vector). */
  'i32x4.shr_s': 0xac,
  'f32x4.abs': 0xe0,
  'f32x4.sqrt': 0xe3,
  'f32x4.div': 0xe7,
  /** Lane-wise maximum, NaN if either lane is NaN. */
  'f32x4.max': 0xe9,
  /** pmin(a, b) = b < a ? b : a (minps): a NaN `a` is kept, a NaN `b` ignored. */
  'f32x4.pmin': 0xea,
  /** pmax(a, b) = a < b ? b : a (maxps): a NaN `a` is kept, a NaN `b` ignored. */
  'f32x4.pmax': 0xeb,
} as const;
export type LaneOp = keyof typeof LANE_OPS;

const bitsOf = (value: number): number => {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, value, true);
  return v.getInt32(0, true);
};

export class F32x4Lanes {
  private readonly consts = new Map<number, number>();

  constructor(readonly f: FunctionBuilder) {}

  /** One SIMD instruction without immediates, from the assembler's table or LANE_OPS. */
  op(name: SimdOp | LaneOp): this {
    if (name in LANE_OPS) this.f.op(0xfd, ...uleb(LANE_OPS[name as LaneOp]));
    else this.f.simd(name as SimdOp);
    return this;
  }

  /**
   * A v128 local holding the 32-bit pattern `bits` in all four lanes. The first request declares the
   * local and emits the splat that sets it: request every constant before the loops.
   */
  bits(bits: number): number {
    let l = this.consts.get(bits | 0);
    if (l === undefined) {
      l = this.f.local('v128');
      this.f
        .i32(bits | 0)
        .simd('i32x4.splat')
        .set(l);
      this.consts.set(bits | 0, l);
    }
    return l;
  }

  /** A v128 local holding Math.fround(value) in all four lanes (see `bits`). */
  constant(value: number): number {
    return this.bits(bitsOf(value));
  }

  /** Pushes the 32-bit patterns `lanes` (v128.const); one pattern fills all four lanes. */
  pushBits(...lanes: [number] | [number, number, number, number]): this {
    this.f.op(0xfd, ...uleb(0x0c));
    for (let lane = 0; lane < 4; lane++) {
      const bits = lanes[lanes.length === 1 ? 0 : lane];
      for (let b = 0; b < 4; b++) this.f.op((bits >>> (8 * b)) & 0xff);
    }
    return this;
  }

  /** Pushes Math.fround(value) in all four lanes (v128.const). */
  pushConstant(value: number): this {
    return this.pushBits(bitsOf(value));
  }

  /** f32x4.splat of the float64 on the stack, rounded to float32. */
  splatF64(): this {
    this.f.scalar('f32.demote_f64').simd('f32x4.splat');
    return this;
  }

  /** Replaces the f32x4 on the stack by its lane `lane` as a float32. */
  extractLane(lane: number): this {
    this.op('f32x4.extract_lane');
    this.f.op(lane);
    return this;
  }

  /** i8x16.shuffle of the two v128 operands on the stack, picking 32-bit lanes `lanes` (0–3 the first, 4–7 the second). */
  shuffle32(lanes: readonly [number, number, number, number]): this {
    this.op('i8x16.shuffle');
    for (const lane of lanes) for (let b = 0; b < 4; b++) this.f.op(lane * 4 + b);
    return this;
  }

  /**
   * Replaces the v128 local `v` by its lanes combined with `combine` (pmax or add), the result in all
   * four lanes: (v0 ∘ v2) ∘ (v1 ∘ v3), the same order on every run.
   */
  horizontal(v: number, combine: 'f32x4.pmax' | 'f32x4.add'): this {
    this.f.get(v).get(v).get(v);
    this.shuffle32([2, 3, 0, 1]).op(combine);
    this.f.set(v).get(v).get(v).get(v);
    this.shuffle32([1, 0, 3, 2]).op(combine);
    this.f.set(v);
    return this;
  }

  /**
   * Sets the v128 local `mask` to all ones in the lanes whose byte offset 0, 4, 8, 12 is below the
   * i32 that `bytesLeft` pushes (0–16) — the lanes of a row's partial last group of four that hold
   * the row — and zeros elsewhere.
   */
  tailMask(mask: number, bytesLeft: () => void): this {
    bytesLeft();
    this.f.simd('i32x4.splat');
    this.pushBits(0, 4, 8, 12).op('i32x4.gt_s');
    this.f.set(mask);
    return this;
  }
}
