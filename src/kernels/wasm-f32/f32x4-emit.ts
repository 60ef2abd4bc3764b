/**
 * What float32 SIMD kernels share: f32x4 and i32x4 constants splatted into v128 locals once, before
 * the loop (float32 ones from their bit patterns, so a constant is exactly the float32 it names), and
 * the float32 and i32 lane instructions the assembler's table lacks.
 */
import { type FunctionBuilder, uleb } from '../wasm/assembler.js';

/** SIMD sub-opcodes the assembler's table lacks (after the 0xFD prefix). */
export const F32X4_OP = {
  /** Lane shuffle of two vectors by 16 byte indices (immediates follow: see `F32x4Lanes.shuffle`). */
  i8x16Shuffle: 0x0d,
  /** Lane mask a < b. */
  lt: 0x43,
  /** Arithmetic shift right by an i32 (popped after the vector). */
  i32x4ShrS: 0xac,
  abs: 0xe0,
  div: 0xe7,
  /** pmin(a, b) = b < a ? b : a, lane-wise (NaN a kept, NaN b dropped). */
  pmin: 0xea,
  /** pmax(a, b) = a < b ? b : a, lane-wise (NaN a kept, NaN b dropped). */
  pmax: 0xeb,
} as const;

/** The float32 bit pattern of `value` rounded to float32, as an i32. */
function f32Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value, true);
  return view.getInt32(0, true);
}

export class F32x4Lanes {
  private readonly consts = new Map<string, number>();

  constructor(readonly f: FunctionBuilder) {}

  /**
   * A v128 local holding float32(`value`) in all four lanes. The first request for a value declares
   * the local and emits the splat that sets it: request every constant before the loop.
   */
  constant(value: number): number {
    return this.splat(`f${value}`, f32Bits(value));
  }

  /** A v128 local holding the i32 `value` in all four lanes (declared and set as `constant`'s). */
  intConstant(value: number): number {
    return this.splat(`i${value}`, value);
  }

  private splat(key: string, bits: number): number {
    let l = this.consts.get(key);
    if (l === undefined) {
      l = this.f.local('v128');
      this.f.i32(bits).simd('i32x4.splat').set(l);
      this.consts.set(key, l);
    }
    return l;
  }

  /** One instruction of F32X4_OP (not the shuffle). */
  op(code: number): void {
    this.f.op(0xfd, ...uleb(code));
  }
  add(): void {
    this.f.simd('f32x4.add');
  }
  sub(): void {
    this.f.simd('f32x4.sub');
  }
  mul(): void {
    this.f.simd('f32x4.mul');
  }
  div(): void {
    this.op(F32X4_OP.div);
  }

  /** i8x16.shuffle of the two vectors on the stack: result byte k is byte `bytes[k]` of a‖b. */
  shuffle(bytes: readonly number[]): void {
    if (bytes.length !== 16 || bytes.some((b) => !Number.isInteger(b) || b < 0 || b > 31))
      throw new Error(`F32x4Lanes.shuffle: needs 16 byte indices in 0..31, got [${bytes.join(', ')}]`);
    this.op(F32X4_OP.i8x16Shuffle);
    this.f.op(...bytes);
  }
}
