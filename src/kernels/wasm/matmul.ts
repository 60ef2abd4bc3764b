/**
 * WebAssembly SIMD matmul: the 'wasm' backend of the 'matmul' kernel (float32 with f32x4, float64
 * with f64x2). One WebAssembly.Memory, grown as needed, holds A, B and C of one batch item at a time;
 * operands are copied in already laid out for the kernel (O(n²) copies against O(n³) arithmetic):
 *   A: stored [m, k] → copied as is (kernel mode 'rows'); stored [k, m] (transA) → copied as is
 *      (mode 'cols'); both zero-padded to whole MR-row tiles.
 *   B: stored [k, n] → copied as is; stored [n, k] (transB) → transposed while copying (tiled);
 *      both zero-padded to whole NR-column tiles.
 * The kernel writes every element of the padded C, and the m×n corner is copied out. Memory is kept
 * between calls (it never shrinks: about 4·(mk + kn + mn) bytes of the largest product seen).
 *
 * Measured alternatives (bench/, 2-vCPU Xeon, Node 20): packing A and/or B into contiguous k-major
 * panels, row-blocking A (mc = 32/64/128) and padding power-of-two leading dimensions were all within
 * noise of, or slower than, this direct layout at n = 128…512 and the MLP shapes; tile 4×8 beat
 * 6×8, 8×4, 4×12, 3×16, 2×16 and 5×8 for f32, and 4×4 was as good as 4×6, 6×4 and 2×8 for f64.
 */
import type { FloatArray } from '../../tensor/tensor.js';
import { addRowBias, cpuMatmul } from '../cpu/matmul.js';
import type { MatmulKernel, MatmulSpec } from '../registry.js';
import { type WasmMemory, instantiate, validates } from './api.js';
import {
  type AMode,
  type GemmShape,
  type WasmFloat,
  FLUSH_SUBNORMALS,
  addRowsName,
  buildGemmModule,
  elementBytes,
  gemmName,
  relaxedSimdProbe,
  simdProbe,
} from './gemm-module.js';

type AddRowsFn = (c: number, ldc: number, rows: number, bias: number, rowBytes: number) => void;
type FlushFn = (at: number, bytes: number) => void;

type GemmFn = (
  a: number,
  aPanel: number,
  aStride: number,
  b: number,
  bPanel: number,
  bStep: number,
  c: number,
  ldc: number,
  mPanels: number,
  nPanels: number,
  k: number,
) => void;

export interface WasmMatmulOptions {
  /** Tile shapes (defaults: f32 4×8, f64 4×4). */
  readonly f32Tile?: readonly [number, number];
  readonly f64Tile?: readonly [number, number];
  /** Use relaxed-SIMD multiply-add when the engine has it (default true). */
  readonly fused?: boolean;
}

/** True when this engine compiles WebAssembly fixed-width SIMD (Node ≥ 16.4). */
export function wasmSimdSupported(): boolean {
  return validates(simdProbe());
}

/** True when this engine has relaxed SIMD (Node ≥ 22, or --experimental-wasm-relaxed-simd). */
export function wasmRelaxedSimdSupported(): boolean {
  return validates(relaxedSimdProbe());
}

function shape(type: WasmFloat, tile: readonly [number, number], fused: boolean): GemmShape {
  return { type, mr: tile[0], nr: tile[1], fused };
}

const align64 = (bytes: number): number => Math.ceil(bytes / 64) * 64;
const PAGE = 65536;

/** Writes the transpose of the [rows, cols] matrix at src[off…] into dst[dOff…] as [cols, rows] with row stride ld. */
function transposeInto(
  src: FloatArray,
  off: number,
  rows: number,
  cols: number,
  dst: FloatArray,
  dOff: number,
  ld: number,
): void {
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(r0 + T, rows);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(c0 + T, cols);
      for (let r = r0; r < r1; r++) {
        const s = off + r * cols;
        let d = dOff + c0 * ld + r;
        for (let c = c0; c < c1; c++, d += ld) dst[d] = src[s + c];
      }
    }
  }
}

/** Copies `rows` rows of `cols` elements (source row stride `cols`) to stride `ld`, zeroing columns cols..ld. */
function copyRowsPadded(
  src: FloatArray,
  off: number,
  rows: number,
  cols: number,
  dst: FloatArray,
  dOff: number,
  ld: number,
): void {
  if (ld === cols) {
    dst.set(src.subarray(off, off + rows * cols), dOff);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const s = off + r * cols;
    const d = dOff + r * ld;
    if (cols >= 32) dst.set(src.subarray(s, s + cols), d);
    else for (let c = 0; c < cols; c++) dst[d + c] = src[s + c];
    for (let c = cols; c < ld; c++) dst[d + c] = 0;
  }
}

export class WasmMatmul {
  readonly memory: WasmMemory;
  readonly fused: boolean;
  readonly tiles: Record<WasmFloat, readonly [number, number]>;
  private readonly fns: Record<string, GemmFn>;
  private f32 = new Float32Array(0);
  private f64 = new Float64Array(0);

  constructor(options: WasmMatmulOptions = {}) {
    this.fused = (options.fused ?? true) && wasmRelaxedSimdSupported();
    this.tiles = { f32: options.f32Tile ?? [4, 8], f64: options.f64Tile ?? [4, 4] };
    const bytes = buildGemmModule(
      shape('f32', this.tiles.f32, this.fused),
      shape('f64', this.tiles.f64, this.fused),
    );
    const instance = instantiate(bytes);
    this.memory = instance.exports.memory as WasmMemory;
    this.fns = instance.exports as unknown as Record<string, GemmFn>;
    this.refreshViews();
  }

  private refreshViews(): void {
    if (this.f32.buffer !== this.memory.buffer) {
      this.f32 = new Float32Array(this.memory.buffer);
      this.f64 = new Float64Array(this.memory.buffer);
    }
  }

  /** Grows memory to at least `bytes`; false when the engine refuses (beyond wasm32's 4 GiB). */
  private ensure(bytes: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) {
      try {
        this.memory.grow(Math.ceil((bytes - have) / PAGE));
      } catch {
        return false;
      }
    }
    this.refreshViews();
    return true;
  }

  /** The MatmulKernel: same contract as the CPU reference. */
  readonly kernel: MatmulKernel = (a, b, out, spec) => this.run(a, b, out, spec);

  /**
   * The product of `spec` into out; with `bias` (length n), C = A·op(B) + bias per row, each product
   * element rounded to out's type before its bias is added — the same values as the kernel followed
   * by `addRowBias`, with the bias added by vector adds in linear memory before C is copied out,
   * rather than in a second, scalar pass over out.
   */
  run(a: FloatArray, b: FloatArray, out: FloatArray, spec: MatmulSpec, bias?: FloatArray): void {
    const { batch, m, n, k, transA, transB, aOffsets, bOffsets } = spec;
    if (batch === 0 || m === 0 || n === 0) return;
    if (k === 0) {
      out.fill(0, 0, batch * m * n);
      if (bias) addRowBias(out, batch * m, n, bias);
      return;
    }
    const type: WasmFloat = a instanceof Float64Array ? 'f64' : 'f32';
    const es = elementBytes(type);
    const [mr, nr] = this.tiles[type];
    const mPanels = Math.ceil(m / mr);
    const nPanels = Math.ceil(n / nr);
    const mPad = mPanels * mr;
    const nPad = nPanels * nr;
    const aBytes = align64(mPad * k * es);
    const bBytes = align64(k * nPad * es);
    const cBytes = align64(mPad * nPad * es);
    // Region starts in bytes; 64 bytes of slack at 0 keep address 0 unused.
    const aAt = 64;
    const bAt = aAt + aBytes;
    const cAt = bAt + bBytes;
    // The bias, zero-padded to nPad, after C.
    const biasAt = cAt + cBytes;
    const end = bias ? biasAt + align64(nPad * es) : biasAt;
    // One batch item too large for 32-bit wasm memory: the CPU reference does it instead.
    if (!this.ensure(end)) {
      cpuMatmul(a, b, out, spec);
      if (bias) addRowBias(out, batch * m, n, bias);
      return;
    }
    const view: FloatArray = type === 'f32' ? this.f32 : this.f64;
    const aI = aAt / es;
    const bI = bAt / es;
    const cI = cAt / es;

    let mode: AMode;
    let aPanel: number;
    let aStride: number;
    if (transA) {
      mode = 'cols';
      aPanel = mr * es;
      aStride = mPad * es;
    } else {
      mode = 'rows';
      aPanel = mr * k * es;
      aStride = k * es;
    }
    const gemm = this.fns[gemmName(type, mode)];
    const addRows = this.fns[addRowsName(type)] as unknown as AddRowsFn;
    // float32 operands lose their subnormals on the way in (see buildFlushSubnormals: they made the
    // arithmetic several times slower and are below anything a float32 result can hold).
    const flush =
      type === 'f32'
        ? (this.fns[FLUSH_SUBNORMALS] as unknown as FlushFn)
        : (_at: number, _bytes: number) => {};
    if (bias) {
      const at = biasAt / es;
      view.set(bias.subarray(0, n), at);
      view.fill(0, at + n, at + nPad);
    }
    let lastA = -1;
    let lastB = -1;
    for (let t = 0; t < batch; t++) {
      const aOff = aOffsets[t];
      if (aOff !== lastA) {
        // Broadcast batch items share an operand: copy it once.
        if (transA) copyRowsPadded(a, aOff, k, m, view, aI, mPad);
        else {
          view.set(a.subarray(aOff, aOff + m * k), aI);
          view.fill(0, aI + m * k, aI + mPad * k);
        }
        flush(aAt, mPad * k * es);
        lastA = aOff;
      }
      const bOff = bOffsets[t];
      if (bOff !== lastB) {
        if (transB) {
          transposeInto(b, bOff, n, k, view, bI, nPad);
          if (nPad > n) for (let p = 0; p < k; p++) view.fill(0, bI + p * nPad + n, bI + (p + 1) * nPad);
        } else copyRowsPadded(b, bOff, k, n, view, bI, nPad);
        flush(bAt, k * nPad * es);
        lastB = bOff;
      }
      gemm(aAt, aPanel, aStride, bAt, nr * es, nPad * es, cAt, nPad * es, mPanels, nPanels, k);
      const o = t * m * n;
      // The bias is added in linear memory (vector adds), then C is copied out as it is.
      if (bias) addRows(cAt, nPad * es, m, biasAt, nPad * es);
      if (n === nPad) out.set(view.subarray(cI, cI + m * n), o);
      else for (let i = 0; i < m; i++) out.set(view.subarray(cI + i * nPad, cI + i * nPad + n), o + i * n);
    }
  }
}
