/**
 * A minimal WebAssembly binary assembler: just what the generated kernels need (one memory, functions
 * over i32 and v128 locals, structured loops, i32 arithmetic, SIMD loads/stores/arithmetic). It keeps
 * hessflow free of toolchains and of run-time dependencies: the kernels are emitted as bytes here and
 * compiled by the engine. Encodings follow the WebAssembly core spec (binary format, §5) and the
 * fixed-width SIMD proposal (opcode prefix 0xFD, LEB128 sub-opcodes).
 */

export type ValType = 'i32' | 'f64' | 'v128';
const VALTYPE: Record<ValType, number> = { i32: 0x7f, f64: 0x7c, v128: 0x7b };

/** Scalar memory and float opcodes used by the kernels (no prefix). */
export const SCALAR = {
  'f32.load': 0x2a,
  'f64.load': 0x2b,
  'f32.store': 0x38,
  'f64.store': 0x39,
  select: 0x1b,
  'f64.lt': 0x63,
  'f64.gt': 0x64,
  'i32.rem_u': 0x70,
  'i32.shr_u': 0x76,
  'f64.sqrt': 0x9f,
  'f64.add': 0xa0,
  'f64.sub': 0xa1,
  'f64.mul': 0xa2,
  'f64.div': 0xa3,
  'f32.demote_f64': 0xb6,
  'f64.convert_i32_s': 0xb7,
  'f64.promote_f32': 0xbb,
} as const;
export type ScalarOp = keyof typeof SCALAR;
const SCALAR_MEMORY = new Set<ScalarOp>(['f32.load', 'f64.load', 'f32.store', 'f64.store']);

/** Appends the unsigned LEB128 encoding of `value` to `out`. */
function pushUleb(out: number[], value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`uleb: ${value} is not a non-negative integer`);
  }
  let v = value;
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/** Appends the signed LEB128 encoding of the i32 `value` to `out`. */
function pushSleb(out: number[], value: number): void {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new RangeError(`sleb: ${value} is not an i32`);
  }
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  pushUleb(out, value);
  return out;
}

/** Signed LEB128 (for i32.const). */
export function sleb(value: number): number[] {
  const out: number[] = [];
  pushSleb(out, value);
  return out;
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** SIMD sub-opcodes used by the kernels (after the 0xFD prefix). */
export const SIMD = {
  'v128.load': 0x00,
  'v128.load32_splat': 0x09,
  'v128.load64_splat': 0x0a,
  'v128.store': 0x0b,
  'v128.const': 0x0c,
  /** Loads 8 bytes into the low half, zeroing the high half. */
  'v128.load64_zero': 0x5d,
  /** The low two f32 lanes, each widened exactly to f64. */
  'f64x2.promote_low_f32x4': 0x5f,
  /** Each f64 lane rounded to f32 into the low two lanes; the high two are zero. */
  'f32x4.demote_f64x2_zero': 0x5e,
  /** Lane-indexed: replaces one f64 lane with 8 bytes from memory (see `FunctionBuilder.lane`). */
  'v128.load64_lane': 0x57,
  /** Lane-indexed: stores one 8-byte lane. */
  'v128.store64_lane': 0x5b,
  /** Lane-indexed: one i32 lane as a scalar. */
  'i32x4.extract_lane': 0x1b,
  'i32x4.splat': 0x11,
  'f32x4.splat': 0x13,
  'i32x4.ne': 0x38,
  'i32x4.shl': 0xab,
  'i32x4.add': 0xae,
  'i32x4.sub': 0xb1,
  /** Toward zero, saturating, NaN → 0, into the low two lanes (JavaScript's `| 0` on in-range values). */
  'i32x4.trunc_sat_f64x2_s_zero': 0xfc,
  /** The low two i32 lanes, each converted exactly to f64. */
  'f64x2.convert_low_i32x4_s': 0xfe,
  'v128.and': 0x4e,
  /** bitselect(a, b, c) = (a & c) | (b & ~c). */
  'v128.bitselect': 0x52,
  'f64x2.splat': 0x14,
  'f32x4.add': 0xe4,
  'f32x4.sub': 0xe5,
  'f32x4.mul': 0xe6,
  'f64x2.add': 0xf0,
  'f64x2.sub': 0xf1,
  'f64x2.mul': 0xf2,
  'f64x2.div': 0xf3,
  /** pmin(a, b) = b < a ? b : a, lane-wise (JavaScript's `b < a ? b : a`, NaN a kept). */
  'f64x2.pmin': 0xf6,
  /** pmax(a, b) = a < b ? b : a, lane-wise. */
  'f64x2.pmax': 0xf7,
  /** Relaxed SIMD (fused or unfused multiply-add, the engine's choice): a·b + c. */
  'f32x4.relaxed_madd': 0x105,
  'f64x2.relaxed_madd': 0x107,
} as const;
export type SimdOp = keyof typeof SIMD;

/**
 * Builds one function body. Locals are declared up front; instructions append bytes. Methods return
 * `this` so short sequences read left to right, as in the text format.
 */
export class FunctionBuilder {
  private readonly code: number[] = [];
  private readonly localTypes: ValType[] = [];
  private depth = 0;

  constructor(readonly params: readonly ValType[]) {}

  /** Declares a local and returns its index (parameters come first). */
  local(type: ValType): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  get(index: number): this {
    return this.withUleb(0x20, index);
  }
  set(index: number): this {
    return this.withUleb(0x21, index);
  }
  tee(index: number): this {
    return this.withUleb(0x22, index);
  }
  i32(value: number): this {
    this.code.push(0x41);
    pushSleb(this.code, value);
    return this;
  }
  add(): this {
    return this.op(0x6a);
  }
  sub(): this {
    return this.op(0x6b);
  }
  mul(): this {
    return this.op(0x6c);
  }
  ltU(): this {
    return this.op(0x49);
  }

  /** `local[index] += delta` where delta is a constant. */
  addConst(index: number, delta: number): this {
    return this.get(index).i32(delta).add().set(index);
  }
  /** `local[index] += local[by]`. */
  addLocal(index: number, by: number): this {
    return this.get(index).get(by).add().set(index);
  }

  /** `loop` with no result; `br_if` with depth 0 inside it jumps back to its start. */
  loop(body: () => void): this {
    this.op(0x03, 0x40);
    this.depth++;
    body();
    this.depth--;
    return this.op(0x0b);
  }
  brIf(depth: number): this {
    return this.withUleb(0x0d, depth);
  }

  /** A SIMD instruction; memory ones take a log2 alignment and a constant byte offset. */
  simd(op: SimdOp, memarg?: { align: number; offset: number }): this {
    this.withUleb(0xfd, SIMD[op]);
    if (memarg) {
      pushUleb(this.code, memarg.align);
      pushUleb(this.code, memarg.offset);
    }
    return this;
  }

  /** A lane-indexed SIMD instruction: memory ones take a memarg, then the lane index byte. */
  lane(op: SimdOp, lane: number, memarg?: { align: number; offset: number }): this {
    this.simd(op, memarg);
    this.code.push(lane);
    return this;
  }

  /** A scalar instruction; loads and stores take a log2 alignment and a constant byte offset. */
  scalar(op: ScalarOp, memarg?: { align: number; offset: number }): this {
    if (SCALAR_MEMORY.has(op) !== (memarg !== undefined))
      throw new Error(`FunctionBuilder: ${op} ${memarg ? 'takes no' : 'needs a'} memory argument`);
    this.code.push(SCALAR[op]);
    if (memarg) {
      pushUleb(this.code, memarg.align);
      pushUleb(this.code, memarg.offset);
    }
    return this;
  }

  /** i32.trunc_sat_f64_s: toward zero, saturating, NaN → 0 (JavaScript's `| 0` on in-range values). */
  truncSatF64(): this {
    return this.op(0xfc, 0x02);
  }

  /** `if` with no result around `body` (the condition is popped from the stack). */
  ifThen(body: () => void): this {
    this.op(0x04, 0x40);
    this.depth++;
    body();
    this.depth--;
    return this.op(0x0b);
  }

  /** A float64 constant (8 little-endian bytes). */
  f64(value: number): this {
    this.code.push(0x44);
    const bytes = new DataView(new ArrayBuffer(8));
    bytes.setFloat64(0, value, true);
    for (let i = 0; i < 8; i++) this.code.push(bytes.getUint8(i));
    return this;
  }

  /** An opcode followed by one unsigned LEB128 immediate. */
  private withUleb(opcode: number, immediate: number): this {
    this.code.push(opcode);
    pushUleb(this.code, immediate);
    return this;
  }
  v128Zero(): this {
    this.simd('v128.const');
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
  }

  op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  /** The function's code entry: its locals, body and `end`. */
  encode(): number[] {
    if (this.depth !== 0) throw new Error('FunctionBuilder: unclosed block');
    const groups: number[][] = [];
    for (let i = 0; i < this.localTypes.length;) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      groups.push([...uleb(j - i), VALTYPE[this.localTypes[i]]]);
      i = j;
    }
    const head = vec(groups);
    const out = uleb(head.length + this.code.length + 1);
    for (const b of head) out.push(b);
    for (const b of this.code) out.push(b);
    out.push(0x0b);
    return out;
  }
}

export interface ExportedFunction {
  readonly name: string;
  readonly fn: FunctionBuilder;
}

/**
 * A module with one exported memory (`memory`, `initialPages` of 64 KiB, growable) and functions that
 * take i32/v128 parameters and return nothing.
 */
export function assembleModule(functions: readonly ExportedFunction[], initialPages = 1): Uint8Array {
  const types = functions.map(({ fn }) => [0x60, ...vec(fn.params.map((p) => [VALTYPE[p]])), 0x00]);
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, vec(types)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(initialPages)]])),
    ...section(
      7,
      vec([[...name('memory'), 0x02, 0x00], ...functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])]),
    ),
    ...section(10, vec(functions.map(({ fn }) => fn.encode()))),
  ];
  return Uint8Array.from(bytes);
}
