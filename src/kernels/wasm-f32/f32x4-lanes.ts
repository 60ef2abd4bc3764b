/**
 * What the float32 row kernels share: the f32x4 operations the assembler's table lacks (division,
 * square root, lane shuffles and extraction, an i32 comparison for lane masks), a horizontal sum
 * whose result lands in every lane (so per-row statistics stay in v128 locals, with no float32 scalar
 * locals, which the assembler does not declare), and the mask that keeps the first `cols mod 4` lanes
 * of a row's last, partial quad.
 */
import { type FunctionBuilder, uleb } from '../wasm/assembler.js';

/** SIMD sub-opcodes the assembler's table lacks (after the 0xFD prefix). */
export const F32X4_OP = {
  i8x16Shuffle: 0x0d,
  f32x4ExtractLane: 0x1f,
  i32x4GtS: 0x3b,
  f32x4Sqrt: 0xe3,
  f32x4Div: 0xe7,
  /** Lane-wise maximum, NaN if either lane is NaN. */
  f32x4Max: 0xe9,
} as const;

/** One instruction of F32X4_OP without immediates. */
export function f32x4(f: FunctionBuilder, code: number): void {
  f.op(0xfd, ...uleb(code));
}

/** i8x16.shuffle of the two v128 on the stack, choosing whole 4-byte lanes (0–3 first, 4–7 second). */
export function shuffleLanes(f: FunctionBuilder, lanes: readonly [number, number, number, number]): void {
  f.op(0xfd, ...uleb(F32X4_OP.i8x16Shuffle));
  for (const l of lanes) for (let b = 0; b < 4; b++) f.op(4 * l + b);
}

/** A v128 constant of four i32 lanes. */
export function i32x4Const(f: FunctionBuilder, lanes: readonly [number, number, number, number]): void {
  f.simd('v128.const');
  const bytes = new DataView(new ArrayBuffer(16));
  lanes.forEach((v, i) => bytes.setInt32(4 * i, v, true));
  for (let i = 0; i < 16; i++) f.op(bytes.getUint8(i));
}

/**
 * Replaces the f32x4 on the stack by its lane sum in every lane: (v0 + v2) + (v1 + v3), the same
 * order every time.
 */
export function laneSum(f: FunctionBuilder, scratch: number): void {
  f.tee(scratch).get(scratch).get(scratch);
  shuffleLanes(f, [2, 3, 0, 1]);
  f.simd('f32x4.add').tee(scratch).get(scratch).get(scratch);
  shuffleLanes(f, [1, 0, 3, 2]);
  f.simd('f32x4.add');
}

/**
 * Pushes the lane mask of a partial quad: all ones in the lanes below `count` (an i32 local, 0–3),
 * zero above, for `v128.and` with values read past a row's end.
 */
export function tailMask(f: FunctionBuilder, count: number): void {
  f.get(count).simd('i32x4.splat');
  i32x4Const(f, [0, 1, 2, 3]);
  f32x4(f, F32X4_OP.i32x4GtS);
}

/** f32x4.splat of the float64 on the stack, rounded to float32. */
export function splatF64(f: FunctionBuilder): void {
  f.scalar('f32.demote_f64').simd('f32x4.splat');
}
