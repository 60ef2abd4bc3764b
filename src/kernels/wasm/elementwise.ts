/**
 * WebAssembly SIMD elementwise add, sub and mul of equal-shape float32 arrays: the 'wasm' backend of
 * the 'binary' kernel for the flat case (residual adds, gradient accumulation). A scalar JavaScript
 * loop costs several nanoseconds per element; copying the operands into linear memory, one f32x4
 * operation per four elements and copying the result out cost a fraction of that. Each lane is the
 * IEEE float32 sum (difference, product) of its two values, which is what the CPU reference stores
 * too: it computes in float64 and rounds once, and for one +, − or × that double rounding equals the
 * float32 operation. One operand broadcast from a single value (attention's 1/√d scale; tanh's
 * 1 − y², the value first) has its own loops; other broadcasting, float64 and the other ops go to the
 * CPU reference.
 */
import type { FloatArray } from '../arrays.js';
import { cpuBinary } from '../cpu/elementwise.js';
import type { BinaryKernel, BinaryOp } from '../registry.js';
import { FunctionBuilder, type SimdOp, assembleModule } from './assembler.js';
import { type WasmMemory, instantiate } from './api.js';
import { WasmKernelHost, align64 } from './kernel-host.js';

type FlatFn = (a: number, b: number, out: number, bytes: number) => void;

const FLAT_OPS = { add: 'f32x4.add', sub: 'f32x4.sub', mul: 'f32x4.mul' } as const satisfies Partial<
  Record<BinaryOp, SimdOp>
>;
type FlatOp = keyof typeof FLAT_OPS;

/** out[i] = a[i] op b[i] over `bytes` bytes (a multiple of 16, ≥ 16), one f32x4 at a time. */
function buildFlat(op: SimdOp): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32']);
  const [a, b, out, bytes] = [0, 1, 2, 3];
  const i = f.local('i32');
  f.i32(0).set(i);
  f.loop(() => {
    f.get(out).get(i).add(); // store address, under the result
    f.get(a).get(i).add().simd('v128.load', { align: 4, offset: 0 });
    f.get(b).get(i).add().simd('v128.load', { align: 4, offset: 0 });
    f.simd(op).simd('v128.store', { align: 4, offset: 0 });
    f.get(i).i32(16).add().tee(i).get(bytes).ltU().brIf(0);
  });
  return f;
}

/**
 * out[i] = a[i] op s over `bytes` bytes (a multiple of 16, ≥ 16), s the float32 at `sAt`: an operand
 * broadcast from one value (a scale by a constant, as attention's 1/√d). With `scalarFirst`,
 * out[i] = s op a[i] (tanh's derivative 1 − y², a constant minus a tensor).
 */
function buildScalar(op: SimdOp, scalarFirst = false): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32']);
  const [a, sAt, out, bytes] = [0, 1, 2, 3];
  const i = f.local('i32');
  const sv = f.local('v128');
  f.get(sAt).simd('v128.load32_splat', { align: 2, offset: 0 }).set(sv);
  f.i32(0).set(i);
  f.loop(() => {
    f.get(out).get(i).add(); // store address, under the result
    if (scalarFirst) f.get(sv);
    f.get(a).get(i).add().simd('v128.load', { align: 4, offset: 0 });
    if (!scalarFirst) f.get(sv);
    f.simd(op).simd('v128.store', { align: 4, offset: 0 });
    f.get(i).i32(16).add().tee(i).get(bytes).ltU().brIf(0);
  });
  return f;
}

/** Export names of the broadcast-scalar forms of an op: a op s, and s op a. */
const scalarName = (op: FlatOp): string => `${op}_scalar`;
const scalarFirstName = (op: FlatOp): string => `scalar_${op}`;

/** True when `strides` walk `shape` contiguously in row-major order (size-1 dims may have any stride). */
function rowMajor(shape: readonly number[], strides: readonly number[]): boolean {
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && strides[d] !== expect) return false;
    expect *= shape[d];
  }
  return true;
}

/** Below this many elements the two copies and the call cost more than the scalar loop saves. */
const MIN_WASM = 64;

export class WasmElementwise extends WasmKernelHost {
  private readonly fns: Record<FlatOp, FlatFn>;
  private readonly scalarFns: Record<FlatOp, FlatFn>;
  private readonly scalarFirstFns: Record<FlatOp, FlatFn>;
  private readonly kernels = new Map<BinaryOp, BinaryKernel>();

  constructor() {
    const ops = Object.keys(FLAT_OPS) as FlatOp[];
    const instance = instantiate(
      assembleModule([
        ...ops.map((op) => ({ name: op, fn: buildFlat(FLAT_OPS[op]) })),
        ...ops.map((op) => ({ name: scalarName(op), fn: buildScalar(FLAT_OPS[op]) })),
        ...ops.map((op) => ({ name: scalarFirstName(op), fn: buildScalar(FLAT_OPS[op], true) })),
      ]),
    );
    super(instance.exports.memory as WasmMemory);
    const pick = (name: (op: FlatOp) => string): Record<FlatOp, FlatFn> =>
      Object.fromEntries(ops.map((op) => [op, instance.exports[name(op)] as FlatFn])) as Record<
        FlatOp,
        FlatFn
      >;
    this.fns = pick((op) => op);
    this.scalarFns = pick(scalarName);
    this.scalarFirstFns = pick(scalarFirstName);
  }

  /**
   * out = a op b elementwise over n ≥ 1 float32 values (out may be a or b); false (out untouched)
   * when they do not fit in linear memory.
   */
  flat(op: FlatOp, a: Float32Array, b: Float32Array, out: Float32Array, n: number): boolean {
    const region = align64(n * 4);
    const aAt = 64;
    const bAt = aAt + region;
    const oAt = bAt + region;
    if (!this.ensure(oAt + region)) return false;
    const view = this.f32;
    view.set(a.subarray(0, n), aAt / 4);
    view.set(b.subarray(0, n), bAt / 4);
    // The lanes past n (up to the next 16 bytes) hold stale values; their results are not copied out.
    this.fns[op](aAt, bAt, oAt, Math.ceil(n / 4) * 16);
    out.set(view.subarray(oAt / 4, oAt / 4 + n));
    return true;
  }

  /**
   * out = a op s (with `scalarFirst`, s op a) elementwise over n ≥ 1 float32 values, s one float32;
   * false (out untouched) when they do not fit in linear memory.
   */
  withScalar(
    op: FlatOp,
    a: Float32Array,
    s: number,
    out: Float32Array,
    n: number,
    scalarFirst = false,
  ): boolean {
    const region = align64(n * 4);
    const sAt = 64;
    const aAt = 128;
    const oAt = aAt + region;
    if (!this.ensure(oAt + region)) return false;
    const view = this.f32;
    view[sAt / 4] = s;
    view.set(a.subarray(0, n), aAt / 4);
    (scalarFirst ? this.scalarFirstFns : this.scalarFns)[op](aAt, sAt, oAt, Math.ceil(n / 4) * 16);
    out.set(view.subarray(oAt / 4, oAt / 4 + n));
    return true;
  }

  /**
   * The BinaryKernel of `op`: float32 add/sub/mul of equal shapes, or of a contiguous operand with a
   * single broadcast value on either side, here; everything else on the CPU.
   */
  kernel(op: BinaryOp): BinaryKernel {
    let k = this.kernels.get(op);
    if (k) return k;
    const cpu = cpuBinary(op);
    if (!(op in FLAT_OPS)) k = cpu;
    else {
      const flatOp = op as FlatOp;
      k = (a: FloatArray, as, b: FloatArray, bs, out: FloatArray, shape) => {
        const n = out.length;
        if (
          n >= MIN_WASM &&
          a instanceof Float32Array &&
          b instanceof Float32Array &&
          out instanceof Float32Array
        ) {
          if (shape.length === 1 && as[0] === 1 && bs[0] === 1) {
            if (this.flat(flatOp, a, b, out, n)) return;
          } else if (bs.every((s) => s === 0) && rowMajor(shape, as)) {
            if (this.withScalar(flatOp, a, b[0], out, n)) return;
          } else if (as.every((s) => s === 0) && rowMajor(shape, bs)) {
            if (this.withScalar(flatOp, b, a[0], out, n, true)) return;
          }
        }
        cpu(a, as, b, bs, out, shape);
      };
    }
    this.kernels.set(op, k);
    return k;
  }
}
