/**
 * WebAssembly permute: the 'wasm' backend of the 'permute' kernel when the innermost (collapsed)
 * output dim is contiguous in x and a whole number of 16-byte vectors long — an attention head split
 * or merge moves rows of head_dim floats. x is copied into linear memory, the rows are gathered there
 * with v128 loads and stores (three loop levels in wasm, the dims above them in JavaScript), and the
 * result is copied out: pure data movement, bit for bit the CPU reference's. Other layouts (a
 * transpose of the last two axes, odd row lengths, tiny tensors) go to the CPU reference.
 */
import type { FloatArray } from '../arrays.js';
import { collapsePermute, cpuPermute } from '../cpu/layout.js';
import type { PermuteKernel } from '../registry.js';
import { FunctionBuilder, assembleModule } from './assembler.js';
import { type WasmMemory, instantiate } from './api.js';
import { WasmKernelHost, align64 } from './kernel-host.js';

type Copy3Fn = (
  src: number,
  dst: number,
  outer: number,
  outerStride: number,
  rows: number,
  rowStride: number,
  rowBytes: number,
) => void;

/**
 * For o < outer, r < rows: copies rowBytes bytes (a multiple of 16, ≥ 16) from
 * src + o·outerStride + r·rowStride to dst, which advances contiguously. Preconditions: outer, rows ≥ 1.
 */
function buildCopy3(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [src, dst, outer, outerStride, rows, rowStride, rowBytes] = [0, 1, 2, 3, 4, 5, 6];
  const o = f.local('i32');
  const r = f.local('i32');
  const row = f.local('i32');
  const j = f.local('i32');
  f.i32(0).set(o);
  f.loop(() => {
    f.i32(0).set(r).get(src).set(row);
    f.loop(() => {
      f.i32(0).set(j);
      f.loop(() => {
        f.get(dst).get(j).add();
        f.get(row).get(j).add().simd('v128.load', { align: 0, offset: 0 });
        f.simd('v128.store', { align: 0, offset: 0 });
        f.get(j).i32(16).add().tee(j).get(rowBytes).ltU().brIf(0);
      });
      f.addLocal(dst, rowBytes).addLocal(row, rowStride);
      f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
    });
    f.addLocal(src, outerStride);
    f.get(o).i32(1).add().tee(o).get(outer).ltU().brIf(0);
  });
  return f;
}

/** Below this many elements the copies and calls cost more than the scalar loop saves. */
const MIN_WASM = 256;

export class WasmPermute extends WasmKernelHost {
  private readonly copy3: Copy3Fn;

  constructor() {
    const instance = instantiate(assembleModule([{ name: 'copy3', fn: buildCopy3() }]));
    super(instance.exports.memory as WasmMemory);
    this.copy3 = instance.exports.copy3 as Copy3Fn;
  }

  /**
   * The permute of x in linear memory, for collapsed output dims `shape` with strides `stride` (in
   * elements of x) whose last stride is 1; false (out untouched) when it does not fit.
   */
  private run(x: FloatArray, shape: number[], stride: number[], out: FloatArray): boolean {
    const es = x instanceof Float64Array ? 8 : 4;
    const n = x.length;
    const xAt = 64;
    const oAt = xAt + align64(n * es);
    if (!this.ensure(oAt + n * es)) return false;
    const view: FloatArray = es === 8 ? this.f64 : this.f32;
    view.set(x, xAt / es);
    // The last three dims run in wasm (a missing third is one pass of stride 0); the rest here.
    const rank = shape.length;
    const rowBytes = shape[rank - 1] * es;
    const rows = shape[rank - 2];
    const rowStride = stride[rank - 2] * es;
    const outer = rank >= 3 ? shape[rank - 3] : 1;
    const outerStride = rank >= 3 ? stride[rank - 3] * es : 0;
    const odometer = Math.max(rank - 3, 0);
    const block = outer * rows * rowBytes;
    const idx = new Int32Array(Math.max(odometer, 1));
    let off = 0;
    for (let dst = oAt; dst < oAt + n * es; dst += block) {
      this.copy3(xAt + off * es, dst, outer, outerStride, rows, rowStride, rowBytes);
      for (let d = odometer - 1; d >= 0; d--) {
        idx[d]++;
        off += stride[d];
        if (idx[d] < shape[d]) break;
        off -= stride[d] * shape[d];
        idx[d] = 0;
      }
    }
    out.set(view.subarray(oAt / es, oAt / es + n));
    return true;
  }

  /** The PermuteKernel: contiguous rows of whole 16-byte vectors here, everything else on the CPU. */
  readonly kernel: PermuteKernel = (x, xShape, perm, out) => {
    if (out.length >= MIN_WASM) {
      const [shape, stride] = collapsePermute(xShape, perm);
      const es = x instanceof Float64Array ? 8 : 4;
      const rank = shape.length;
      if (rank >= 2 && stride[rank - 1] === 1 && ((shape[rank - 1] * es) & 15) === 0) {
        if (this.run(x, shape, stride, out)) return;
      }
    }
    cpuPermute(x, xShape, perm, out);
  };
}
