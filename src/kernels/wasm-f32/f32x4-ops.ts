/**
 * The f32x4 (and i32x4 bit) instructions the float32 kernels use that the assembler's SIMD table
 * (wasm/assembler.ts) lacks, and float32 constants splatted into v128 locals once, before a loop.
 * Sub-opcodes follow the fixed-width SIMD proposal (after the 0xFD prefix, unsigned LEB128).
 */
import { type FunctionBuilder, uleb } from '../wasm/assembler.js';

export const F32X4_OP = {
  eq: 0x41,
  ne: 0x42,
  lt: 0x43,
  gt: 0x44,
  le: 0x45,
  ge: 0x46,
  v128Not: 0x4d,
  v128And: 0x4e,
  v128AndNot: 0x4f,
  v128Or: 0x50,
  v128Xor: 0x51,
  bitselect: 0x52,
  nearest: 0x6a,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  i32x4Sub: 0xb1,
  abs: 0xe0,
  neg: 0xe1,
  sqrt: 0xe3,
  add: 0xe4,
  sub: 0xe5,
  mul: 0xe6,
  div: 0xe7,
  min: 0xe8,
  max: 0xe9,
  i32x4TruncSatF32x4S: 0xf8,
  convertI32x4S: 0xfa,
} as const;
export type F32x4Op = keyof typeof F32X4_OP;

/** Emits one F32X4_OP instruction. */
export function f32x4(f: FunctionBuilder, op: F32x4Op): void {
  f.op(0xfd, ...uleb(F32X4_OP[op]));
}

/** Float32 constants in v128 locals, each declared and splatted on its first request. */
export class F32x4Constants {
  /** Keyed by the float32 value's bits, so −0 and 0 are two constants. */
  private readonly locals = new Map<number, number>();
  private readonly bits = new Float32Array(1);

  constructor(readonly f: FunctionBuilder) {}

  /**
   * A v128 local holding fround(`value`) in all four lanes; request every constant before the loop
   * (the first request emits the splat where it stands).
   */
  get(value: number): number {
    this.bits[0] = value;
    const key = new Uint32Array(this.bits.buffer)[0];
    let l = this.locals.get(key);
    if (l === undefined) {
      l = this.f.local('v128');
      this.f.f64(this.bits[0]).scalar('f32.demote_f64').simd('f32x4.splat').set(l);
      this.locals.set(key, l);
    }
    return l;
  }
}

/** A v128 local holding float64 parameter `param` rounded to float32 in all four lanes. */
export function splatParam(f: FunctionBuilder, param: number): number {
  const l = f.local('v128');
  f.get(param).scalar('f32.demote_f64').simd('f32x4.splat').set(l);
  return l;
}
