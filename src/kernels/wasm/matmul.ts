/**
 * WebAssembly SIMD matmul: the 'wasm' backend of the 'matmul' kernel (float32 with f32x4, float64
 * with f64x2). One WebAssembly.Memory, grown as needed, holds A, B and C of one batch item at a time;
 * operands are copied in already laid out for the kernel (O(n²) copies against O(n³) arithmetic):
 *   A: stored [m, k] → copied as is (kernel mode 'rows'); stored [k, m] (transA) → packed into
 *      k-major panels of MR rows (mode 'cols' with panel strides) when larger than 32 KiB, else
 *      copied as is (mode 'cols'); zero-padded to whole MR-row tiles.
 *   B: stored [k, n] → packed into k-major panels of NR columns when larger than 32 KiB, else copied
 *      as is; stored [n, k] (transB) → always transposed into panels (in wasm, by 4×4 shuffles);
 *      zero-padded to whole NR-column tiles.
 * Packing copies a block of rows (≤ 16 KiB) into a raw buffer with TypedArray.set, then a wasm pass
 * moves it into the panels (flushing float32 subnormals on the way), block after block, so the raw
 * copy stays in L1 and the footprint is the packed operand alone. The kernel writes every element of
 * the padded C (adding the bias, if any, as it stores a tile); rows padded to whole tiles are moved
 * together in memory and the m×n block is copied out. Memory is kept between calls (it never shrinks:
 * about 4·(mk + kn + mn) bytes of the largest product seen, plus the raw buffer: 16 KiB, or one
 * panel of a B stored [n, k] where that is larger).
 *
 * Every output element is the same float32/float64 operations in the same order as a plain loop
 * (0 + a₀b₀ + a₁b₁ + … in order over k, product and sum each rounded, bias added after): layout,
 * packing and tile order change, the arithmetic does not (test/kernels/matmul-order.test.ts).
 *
 * Measured (2-vCPU Xeon, Node 20, CPU time interleaved in one process with the previous, unpacked
 * version; medians of 9 rounds, loaded machine): the kernel alone runs ~33 GFLOP/s on packed panels
 * at every char-GPT shape but only 13–16 on transA with k = 2048 read in place (a new cache line of A
 * and of B per step, a new page every four steps of A). Per call: m256 n64 and m64 n256 k2048 transA
 * 0.55–0.57× the time (11–14 → 20–25 GFLOP/s), m192 n64 k2048 transA 0.74×; batched attention scores
 * b128 m64 n64 k16 transB 0.68× (the JavaScript transpose was a third of the call); forward products
 * with bias (added in the kernel's store; B packed) 0.85–0.97×; m2048 n89 k64 transB (padded rows
 * compacted in memory) 0.91×; the other shapes within noise. An AdamW char-GPT Trainer step: 0.916×
 * (median of 24 rounds of 3 steps; rounds 0.78–0.97×).
 * Tried and dropped: packing from JavaScript straight out of the source arrays (scalar loops: 1.4–4.5×
 * slower per call than the unpacked kernel); packing operands of ≤ 32 KiB (attention products:
 * 1.1–1.3× slower, they sit in L1 either way); one whole-operand pack pass (0.43 ms on 2 MiB against
 * 0.26 ms by 16-row blocks). Not needed: blocking over k (packed long-k panels already run at the
 * square-matrix rate) and batching the attention items' copies (per item, copies and subnormal
 * flushing are ~2 µs of ~6–8 µs, JavaScript call overhead little of it). Earlier (n = 128…512 and MLP
 * shapes, in-place layout): row-blocking A (mc = 32/64/128) and padding power-of-two leading
 * dimensions were within noise; tile 4×8 beat 6×8, 8×4, 4×12, 3×16, 2×16 and 5×8 for f32, and 4×4
 * was as good as 4×6, 6×4 and 2×8 for f64.
 *
 * Where the kernel stands (AMD EPYC Zen 4 2-vCPU VM, Node 20, CPU time, loaded machine): a loop of
 * independent f32x4.relaxed_madd runs 55–58 GFLOP/s, and the 4×8 kernel 45–49 on 512³ and the
 * char-GPT forward shapes, ~85% of that, one vfmadd231ps per multiply-add with its B rows and A
 * broadcasts loaded from memory (V8 already unrolls the k loop 3×). WebAssembly has no 256-bit
 * vectors, so OpenBLAS's AVX2/AVX-512 rate (~80) is out of reach here. More accumulators do not fit:
 * V8 loads all of a step's operands before its multiply-adds, so 5×8 and 6×8 spill accumulators to
 * the stack (21–25 GFLOP/s), and unrolling k 2× or 4× by hand (constant offsets on packed panels) ran
 * 1.5–1.9× slower for the same reason. Evenly strided batches of small products (attention) are laid
 * out whole (`bulkBatch`): 0.93–0.94× the time of item-by-item copies at b128 m64 n64 k16 and
 * b128 m64 n16 k64, the same bits (test/kernels/matmul-batched.test.ts).
 */
import { setFlagsFromString } from 'node:v8';
import type { FloatArray } from '../arrays.js';
import { addRowBias, cpuMatmul } from '../cpu/matmul.js';
import type { MatmulKernel, MatmulSpec } from '../registry.js';
import { type WasmMemory, instantiate, validates } from './api.js';
import {
  type AMode,
  type GemmShape,
  type WasmFloat,
  COMPACT_ROWS,
  FLUSH_SUBNORMALS,
  buildGemmModule,
  elementBytes,
  gemmName,
  packName,
  packTransposedName,
  relaxedSimdProbe,
  simdProbe,
} from './gemm-module.js';
import { align64 } from './kernel-host.js';

type FlushFn = (at: number, bytes: number) => void;
type CompactFn = (c: number, from: number, to: number, rows: number) => void;
type PackFn = (
  src: number,
  srcRow: number,
  dst: number,
  rows: number,
  panels: number,
  dstPanel: number,
) => void;
type PackTFn = (
  src: number,
  srcRow: number,
  dst: number,
  panelStride: number,
  panels: number,
  kBlocks: number,
) => void;

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
  bias: number,
) => void;

export interface WasmMatmulOptions {
  /** Tile shapes (defaults: f32 4×8, f64 4×4). */
  readonly f32Tile?: readonly [number, number];
  readonly f64Tile?: readonly [number, number];
  /** Use relaxed-SIMD multiply-add when the engine has it (default: yes, unless HESSFLOW_RELAXED_SIMD=0). */
  readonly fused?: boolean;
  /**
   * Lay out all items of an evenly strided batch at once (see `bulkBatch`; default: yes). Off, every
   * item is copied in and out on its own: the same values, for comparisons.
   */
  readonly bulkBatches?: boolean;
}

/** True when this engine compiles WebAssembly fixed-width SIMD (Node ≥ 16.4). */
export function wasmSimdSupported(): boolean {
  return validates(simdProbe());
}

/**
 * Whether a WasmMatmul without an explicit `fused` option fuses, from HESSFLOW_RELAXED_SIMD: unset or
 * 1/on/true/yes fuse; 0/off/false/no keep multiply-then-add (the CPU reference's bits, on every Node);
 * anything else is an error naming the variable.
 */
export function relaxedSimdAllowed(value: string | undefined): boolean {
  const v = value?.trim().toLowerCase();
  if (v === undefined || v === '' || ['1', 'on', 'true', 'yes'].includes(v)) return true;
  if (['0', 'off', 'false', 'no'].includes(v)) return false;
  throw new Error(
    `HESSFLOW_RELAXED_SIMD=${JSON.stringify(value)}: use 0 (multiply, then add: the CPU reference's bits) or 1 (fused multiply-add, the default)`,
  );
}

/**
 * True when this engine has relaxed SIMD. Node ≥ 22 (V8 ≥ 11.4) ships it; Node 20's V8 (11.3)
 * implements it behind --experimental-wasm-relaxed-simd, which this turns on (V8 flags are
 * process-wide, so worker threads see it too). Why it is worth a flag:
 * on the char-GPT step, f32x4.relaxed_madd (one FMA instead of a multiply and an add) made the
 * matmuls 0.76–0.77× the time and the whole AdamW step 0.85–0.86× (2-vCPU Xeon with FMA3, Node 20,
 * fused and unfused kernels alternating step by step in one process). The fused product rounds once
 * per multiply-add, so results differ from the CPU reference in the last bits (within the 1e-5
 * self-check); `fused: false` keeps the bit-for-bit in-order product.
 */
export function wasmRelaxedSimdSupported(): boolean {
  const probe = relaxedSimdProbe();
  if (validates(probe)) return true;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  return validates(probe);
}

function shape(type: WasmFloat, tile: readonly [number, number], fused: boolean): GemmShape {
  return { type, mr: tile[0], nr: tile[1], fused };
}

const PAGE = 65536;
/** Operands up to this size are used as copied (they stay in L1 anyway); larger ones are packed. */
const PACK_MIN_BYTES = 32768;

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

/** Bytes of an operand copied in (raw) per block before that block is packed: stays in L1. */
const RAW_BLOCK = 16384;

/** Rows of `rowBytes` per raw block (at least one). */
const blockRows = (rowBytes: number): number => Math.max(1, Math.floor(RAW_BLOCK / rowBytes));

/** True when batch item t starts at offsets[0] + t·itemSize for every t: the items lie one after another. */
function evenlyStrided(offsets: Int32Array, itemSize: number): boolean {
  const first = offsets[0];
  for (let t = 1; t < offsets.length; t++) if (offsets[t] !== first + t * itemSize) return false;
  return true;
}

export class WasmMatmul {
  readonly memory: WasmMemory;
  readonly fused: boolean;
  readonly tiles: Record<WasmFloat, readonly [number, number]>;
  readonly bulkBatches: boolean;
  private readonly fns: Record<string, GemmFn>;
  private f32 = new Float32Array(0);
  private f64 = new Float64Array(0);

  constructor(options: WasmMatmulOptions = {}) {
    // Asked not to fuse, the engine's flag is left alone.
    const fuse = options.fused ?? relaxedSimdAllowed(process.env.HESSFLOW_RELAXED_SIMD);
    this.fused = fuse && wasmRelaxedSimdSupported();
    this.tiles = { f32: options.f32Tile ?? [4, 8], f64: options.f64Tile ?? [4, 4] };
    this.bulkBatches = options.bulkBatches ?? true;
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
   * by `addRowBias`, with the bias added by the gemm as it stores each tile (vector adds) rather than
   * in a second, scalar pass over out.
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
    // Operands beyond L1 whose tile width is whole 16-byte vectors are packed into contiguous panels.
    const packA = transA && (mr * es) % 16 === 0 && mPad * k * es > PACK_MIN_BYTES;
    const packB = (nr * es) % 16 === 0 && k * nPad * es > PACK_MIN_BYTES;
    // B stored [n, k] is always transposed into panels, by lanes×lanes blocks of k rounded up (kq).
    const lanes = 16 / es;
    const kq = Math.ceil(k / lanes) * lanes;
    const aBytes = align64(mPad * k * es);
    const bBytes = align64((transB ? kq : k) * nPad * es);
    const cBytes = align64(mPad * nPad * es);
    // The raw buffer a packed operand is copied into, a block of rows at a time, before each block is
    // packed (A stored [k, m], B stored [k, n]: rows of k; B stored [n, k]: whole panels of nr rows).
    const tPanels = Math.max(1, Math.floor(RAW_BLOCK / (nr * kq * es))); // transB: panels per block
    const rawBytes = align64(
      Math.max(
        packA ? Math.min(k, blockRows(mPad * es)) * mPad * es : 0,
        packB && !transB ? Math.min(k, blockRows(nPad * es)) * nPad * es : 0,
        transB ? Math.min(nPanels, tPanels) * nr * kq * es : 0,
      ),
    );
    // Region starts in bytes; 64 bytes of slack at 0 keep address 0 unused.
    const aAt = 64;
    const bAt = aAt + aBytes;
    const cAt = bAt + bBytes;
    const rawAt = cAt + cBytes;
    // The bias, zero-padded to nPad, after the rest.
    const biasAt = rawAt + rawBytes;
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
    const rawI = rawAt / es;

    let mode: AMode;
    let aPanel: number;
    let aStride: number;
    if (packA) {
      mode = 'cols';
      aPanel = mr * k * es;
      aStride = mr * es;
    } else if (transA) {
      mode = 'cols';
      aPanel = mr * es;
      aStride = mPad * es;
    } else {
      mode = 'rows';
      aPanel = mr * k * es;
      aStride = k * es;
    }
    const bPanel = transB ? kq * nr * es : packB ? k * nr * es : nr * es;
    const bStep = transB || packB ? nr * es : nPad * es;
    const gemm = this.fns[gemmName(type, mode)];
    if (
      this.bulkBatches &&
      batch > 1 &&
      m === mPad &&
      n === nPad &&
      k === kq &&
      !packA &&
      !packB &&
      evenlyStrided(aOffsets, m * k) &&
      evenlyStrided(bOffsets, n * k) &&
      this.bulkBatch(a, b, out, spec, bias, gemm, aPanel, aStride, bPanel, bStep)
    )
      return;
    // float32 operands lose their subnormals on the way in (see buildFlushSubnormals: they made the
    // arithmetic several times slower and are below anything a float32 result can hold).
    const flush =
      type === 'f32'
        ? (this.fns[FLUSH_SUBNORMALS] as unknown as FlushFn)
        : (_at: number, _bytes: number) => {};
    const packAFn = this.fns[packName((mr * es) / 16, type === 'f32')] as unknown as PackFn;
    const packBFn = this.fns[packName((nr * es) / 16, type === 'f32')] as unknown as PackFn;
    const packT = this.fns[packTransposedName(type)] as unknown as PackTFn;
    const compact = this.fns[COMPACT_ROWS] as unknown as CompactFn;
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
        if (packA) {
          const rows = blockRows(mPad * es);
          for (let p = 0; p < k; p += rows) {
            const r = Math.min(rows, k - p);
            copyRowsPadded(a, aOff + p * m, r, m, view, rawI, mPad);
            packAFn(rawAt, mPad * es, aAt + p * mr * es, r, mPanels, aPanel);
          }
        } else {
          if (transA) copyRowsPadded(a, aOff, k, m, view, aI, mPad);
          else {
            view.set(a.subarray(aOff, aOff + m * k), aI);
            view.fill(0, aI + m * k, aI + mPad * k);
          }
          flush(aAt, mPad * k * es);
        }
        lastA = aOff;
      }
      const bOff = bOffsets[t];
      if (bOff !== lastB) {
        if (transB) {
          for (let q = 0; q < nPanels; q += tPanels) {
            const panels = Math.min(tPanels, nPanels - q);
            const rows = Math.min(panels * nr, n - q * nr);
            copyRowsPadded(b, bOff + q * nr * k, rows, k, view, rawI, kq);
            view.fill(0, rawI + rows * kq, rawI + panels * nr * kq);
            packT(rawAt, kq * es, bAt + q * bPanel, bPanel, panels, kq / lanes);
          }
        } else if (packB) {
          const rows = blockRows(nPad * es);
          for (let p = 0; p < k; p += rows) {
            const r = Math.min(rows, k - p);
            copyRowsPadded(b, bOff + p * n, r, n, view, rawI, nPad);
            packBFn(rawAt, nPad * es, bAt + p * nr * es, r, nPanels, bPanel);
          }
        } else {
          copyRowsPadded(b, bOff, k, n, view, bI, nPad);
          flush(bAt, k * nPad * es);
        }
        lastB = bOff;
      }
      // The bias is added by the kernel as it stores each tile (vector adds), then C is copied out.
      gemm(aAt, aPanel, aStride, bAt, bPanel, bStep, cAt, nPad * es, mPanels, nPanels, k, bias ? biasAt : 0);
      const o = t * m * n;
      // Rows of C padded to whole tiles are first moved together in linear memory (one pass there
      // rather than one copy call per row).
      if (n !== nPad && m > 1 && n * es >= 16) compact(cAt, nPad * es, n * es, m);
      if (n === nPad || m === 1 || n * es >= 16) out.set(view.subarray(cI, cI + m * n), o);
      else for (let i = 0; i < m; i++) out.set(view.subarray(cI + i * nPad, cI + i * nPad + n), o + i * n);
    }
  }

  /**
   * A batch of small products whose items lie one after another in A, B and out, and whose tiles need
   * no padding (the attention products: 128 heads of 64×64×16): every item's operands are copied in
   * with one copy each, float32 subnormals flushed in one pass per operand (B stored [n, k]: all
   * items' panels transposed in one pass, which flushes), the kernel runs item after item, and C is
   * copied out in one piece. Per item the kernel reads and writes exactly what the item-by-item loop
   * lays out for it, so every result is the same bits; only the number of copies and calls changes
   * (per item they were most of the cost of these products). False, with nothing done, when memory
   * cannot hold the whole batch.
   */
  private bulkBatch(
    a: FloatArray,
    b: FloatArray,
    out: FloatArray,
    spec: MatmulSpec,
    bias: FloatArray | undefined,
    gemm: GemmFn,
    aPanel: number,
    aStride: number,
    bPanel: number,
    bStep: number,
  ): boolean {
    const { batch, m, n, k, transB, aOffsets, bOffsets } = spec;
    const type: WasmFloat = a instanceof Float64Array ? 'f64' : 'f32';
    const es = elementBytes(type);
    const [mr, nr] = this.tiles[type];
    const lanes = 16 / es;
    const aItem = m * k * es;
    const bItem = n * k * es;
    const cItem = m * n * es;
    const aAt = 64;
    const bAt = aAt + align64(batch * aItem);
    const cAt = bAt + align64(batch * bItem);
    // B stored [n, k]: the items as stored, transposed from here into their panels.
    const rawAt = cAt + align64(batch * cItem);
    const biasAt = rawAt + (transB ? align64(batch * bItem) : 0);
    const end = bias ? biasAt + align64(n * es) : biasAt;
    if (!this.ensure(end)) return false;
    const view: FloatArray = type === 'f32' ? this.f32 : this.f64;
    view.set(a.subarray(aOffsets[0], aOffsets[0] + batch * m * k), aAt / es);
    if (transB) {
      view.set(b.subarray(bOffsets[0], bOffsets[0] + batch * n * k), rawAt / es);
      const packT = this.fns[packTransposedName(type)] as unknown as PackTFn;
      packT(rawAt, k * es, bAt, bPanel, (batch * n) / nr, k / lanes);
    } else view.set(b.subarray(bOffsets[0], bOffsets[0] + batch * n * k), bAt / es);
    if (type === 'f32') {
      const flush = this.fns[FLUSH_SUBNORMALS] as unknown as FlushFn;
      flush(aAt, batch * aItem);
      if (!transB) flush(bAt, batch * bItem);
    }
    if (bias) view.set(bias.subarray(0, n), biasAt / es);
    const mPanels = m / mr;
    const nPanels = n / nr;
    for (let t = 0; t < batch; t++)
      gemm(
        aAt + t * aItem,
        aPanel,
        aStride,
        bAt + t * bItem,
        bPanel,
        bStep,
        cAt + t * cItem,
        n * es,
        mPanels,
        nPanels,
        k,
        bias ? biasAt : 0,
      );
    out.set(view.subarray(cAt / es, cAt / es + batch * m * n), 0);
    return true;
  }
}
