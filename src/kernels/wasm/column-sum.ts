/**
 * WebAssembly SIMD column sums: the 'wasm' backend of the 'sum' kernel for its commonest training
 * layout, a float32 [R, K] tensor summed over its rows into K slots (a Linear layer's bias gradient,
 * ~1.2M elements per step of the reference GPT). The CPU reference accumulates each column in
 * float64, row by row, and rounds once; here each pair of columns is one f64x2 accumulator in linear
 * memory, and every float32 element is widened exactly and added in the same row order — the same
 * float64 sums, so the same results bit for bit, at a fraction of a scalar JavaScript loop's cost.
 * Every other layout or dtype (and an odd K, which would split a pair across rows) goes to the CPU
 * reference.
 */
import type { FloatArray } from '../arrays.js';
import { collapseReduce, cpuSum } from '../cpu/reduce.js';
import type { ReduceKernel } from '../registry.js';
import { FunctionBuilder, assembleModule } from './assembler.js';
import { type WasmMemory, instantiate } from './api.js';
import { WasmKernelHost, align64 } from './kernel-host.js';

type ColumnSumFn = (x: number, rows: number, pairs: number, acc: number) => void;

/**
 * acc[j] += x[r][j] (float64 += widened float32) for every row r in order, for `pairs` pairs of
 * columns: row r of x at x + r·8·pairs bytes, acc (2·pairs float64) at acc. Preconditions: rows,
 * pairs ≥ 1.
 */
function buildColumnSum(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32']);
  const [x, rows, pairs, acc] = [0, 1, 2, 3];
  const r = f.local('i32');
  const px = f.local('i32');
  const pa = f.local('i32');
  const accEnd = f.local('i32');
  f.get(acc).get(pairs).i32(16).mul().add().set(accEnd);
  f.i32(0).set(r).get(x).set(px);
  f.loop(() => {
    f.get(acc).set(pa);
    f.loop(() => {
      f.get(pa); // store address, under the sum
      f.get(pa).simd('v128.load', { align: 4, offset: 0 });
      f.get(px).simd('v128.load64_zero', { align: 3, offset: 0 }).simd('f64x2.promote_low_f32x4');
      f.simd('f64x2.add').simd('v128.store', { align: 4, offset: 0 });
      f.addConst(px, 8);
      f.get(pa).i32(16).add().tee(pa).get(accEnd).ltU().brIf(0);
    });
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}

/** Float64 accumulators start here (64 bytes of slack keep address 0 unused); x follows them. */
const ACC_AT = 64;

export class WasmColumnSum extends WasmKernelHost {
  private readonly fn: ColumnSumFn;

  constructor() {
    const instance = instantiate(assembleModule([{ name: 'colsum_f32', fn: buildColumnSum() }]));
    super(instance.exports.memory as WasmMemory);
    this.fn = instance.exports.colsum_f32 as ColumnSumFn;
  }

  /**
   * out[j] = Σ_r x[r·cols + j] for a float32 [rows, cols] x with even cols ≥ 2 and rows ≥ 1; false
   * (out untouched) when x does not fit in linear memory.
   */
  columnSum(x: Float32Array, rows: number, cols: number, out: FloatArray): boolean {
    const accBytes = align64(cols * 8);
    const xAt = ACC_AT + accBytes;
    if (!this.ensure(xAt + rows * cols * 4)) return false;
    const acc = ACC_AT / 8;
    this.f64.fill(0, acc, acc + cols);
    this.f32.set(x.subarray(0, rows * cols), xAt / 4);
    this.fn(xAt, rows, cols / 2, ACC_AT);
    const f64 = this.f64;
    for (let j = 0; j < cols; j++) out[j] = f64[acc + j];
    return true;
  }

  /** The ReduceKernel: column sums of float32 [R, K] (K even) here, everything else on the CPU. */
  readonly kernel: ReduceKernel = (x, xShape, out, outStrides) => {
    if (x instanceof Float32Array && x.length > 0) {
      const { shape, outStrides: os } = collapseReduce(xShape, outStrides);
      if (shape.length === 2 && os[0] === 0 && os[1] === 1 && shape[1] % 2 === 0) {
        if (this.columnSum(x, shape[0], shape[1], out)) return;
      }
    }
    cpuSum(x, xShape, out, outStrides);
  };
}
