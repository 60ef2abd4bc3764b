/**
 * What branch-free f64x2 kernels share (tanh.ts, expm1-pair.ts): constants splatted into v128 locals
 * once, before the loop; the float64 comparisons and lane operations the assembler's table lacks; and
 * per-lane selection, where every branch's value is computed and each lane keeps its own.
 */
import type { FunctionBuilder } from './assembler.js';

/** SIMD sub-opcodes the assembler's table lacks (after the 0xFD prefix). */
export const F64X2_OP = {
  eq: 0x47,
  ne: 0x48,
  lt: 0x49,
  gt: 0x4a,
  le: 0x4b,
  ge: 0x4c,
  v128Or: 0x50,
  trunc: 0x7a,
  i64x2ExtendLowI32x4S: 0xc7,
  i64x2Shl: 0xcb,
  abs: 0xec,
  neg: 0xed,
} as const;

/** Unsigned LEB128 of a SIMD sub-opcode (those here are below 2^14). */
function uleb(value: number): number[] {
  return value < 0x80 ? [value] : [(value & 0x7f) | 0x80, value >> 7];
}

export class F64x2Lanes {
  private readonly consts = new Map<number, number>();

  constructor(readonly f: FunctionBuilder) {}

  /**
   * A v128 local holding `value` in both f64 lanes. The first request for a value declares the local
   * and emits the splat that sets it: request every constant before the loop.
   */
  constant(value: number): number {
    let l = this.consts.get(value);
    if (l === undefined) {
      l = this.f.local('v128');
      this.f.f64(value).simd('f64x2.splat').set(l);
      this.consts.set(value, l);
    }
    return l;
  }

  /** One instruction of F64X2_OP. */
  op(code: number): void {
    this.f.op(0xfd, ...uleb(code));
  }
  add(): void {
    this.f.simd('f64x2.add');
  }
  sub(): void {
    this.f.simd('f64x2.sub');
  }
  mul(): void {
    this.f.simd('f64x2.mul');
  }
  div(): void {
    this.f.simd('f64x2.div');
  }

  /** Pushes (mask ? then : otherwise) lane by lane: bitselect(then, otherwise, mask). */
  select(then: () => void, otherwise: () => void, mask: () => void): void {
    then();
    otherwise();
    mask();
    this.f.simd('v128.bitselect');
  }
}
