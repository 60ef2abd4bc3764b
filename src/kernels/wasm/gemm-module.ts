/**
 * Generates the WebAssembly SIMD GEMM: C = A·B over full MR×NR tiles, for f32 (f32x4) or f64 (f64x2).
 *
 * The caller lays the operands out in linear memory (zero-padded to whole tiles), so the kernel has
 * no edge cases. Per tile it keeps MR×(NR/lanes) accumulator vectors in registers; each step p loads
 * NR/lanes vectors of B's row p and, for each of the MR rows, splats A[r][p] and multiply-adds, so
 * every loaded value is used MR or NR times. With MR=4, NR=8 (f32) that is 8 accumulators + 2 B
 * vectors + 1 splat + 1 temporary: within x64's 16 vector registers, so nothing spills.
 *
 * Strides are run-time parameters (bytes), so one kernel reads operands in place whether stored
 * transposed or not, or packed into contiguous k-major panels (mode 'cols' with aStep = MR·size and
 * aPanel = MR·k·size; B with bStep = NR·size and bPanel = NR·k·size, or more rows of padding):
 *   A element (r, p) of row panel ip: a + ip·aPanel + r·aRow + p·aStep
 *     mode 'cols' (aRow = element size, A stored k-major, i.e. transposed) or
 *     mode 'rows' (aStep = element size, aRow = a run-time row stride: A stored m-major);
 *   B element (p, j) of column panel jp: b + jp·bPanel + p·bStep + j·elementSize (rows of B contiguous);
 *   C element (r, j) of tile (ip, jp): c + ip·MR·ldc + jp·NR·elementSize + r·ldc + j·elementSize.
 * Every tile of C is overwritten (never accumulated), so stale memory cannot leak into results. With
 * a bias address (non-zero), each tile is stored as acc + bias[j]: the rounded product plus the bias,
 * one vector add, the same value as adding the bias to C afterwards.
 *
 * Also generated: the panel packs (plain and transposing), the float32 subnormal flush and the
 * compaction of padded C rows that the caller uses to lay operands out and copy C back.
 */
import { type ExportedFunction, FunctionBuilder, assembleModule } from './assembler.js';

export type WasmFloat = 'f32' | 'f64';
export type AMode = 'cols' | 'rows';

export interface GemmShape {
  readonly type: WasmFloat;
  /** Rows per tile. */
  readonly mr: number;
  /** Columns per tile (a multiple of the lane count). */
  readonly nr: number;
  /** Use relaxed_madd (one instruction per multiply-add) where the engine supports relaxed SIMD. */
  readonly fused: boolean;
}

/** Parameter order of every generated gemm function (all i32, strides in bytes). */
export const GEMM_PARAMS = [
  'a',
  'aPanel',
  'aStride',
  'b',
  'bPanel',
  'bStep',
  'c',
  'ldc',
  'mPanels',
  'nPanels',
  'k',
  'bias',
] as const;

export function elementBytes(type: WasmFloat): number {
  return type === 'f32' ? 4 : 8;
}

/**
 * One gemm function. `aStride` is aStep in mode 'cols' and aRow in mode 'rows'.
 * Preconditions (checked by the caller): mPanels, nPanels, k ≥ 1.
 */
export function buildGemm(shape: GemmShape, aMode: AMode): FunctionBuilder {
  const { type, mr, nr, fused } = shape;
  const es = elementBytes(type);
  const lanes = 16 / es;
  if (nr % lanes !== 0 || mr < 1) throw new Error(`buildGemm: bad tile ${mr}×${nr} for ${type}`);
  const nv = nr / lanes;
  const f = new FunctionBuilder(GEMM_PARAMS.map(() => 'i32'));
  const [a, aPanel, aStride, b, bPanel, bStep, c, ldc, mPanels, nPanels, k, bias] = GEMM_PARAMS.map(
    (_, i) => i,
  );

  const jp = f.local('i32');
  const ip = f.local('i32');
  const bTile = f.local('i32');
  const cCol = f.local('i32');
  const aTile = f.local('i32');
  const cTile = f.local('i32');
  const pb = f.local('i32');
  const pbEnd = f.local('i32');
  const kB = f.local('i32');
  const ldcTile = f.local('i32');
  const cRow = f.local('i32');
  const biasCol = f.local('i32');
  const pa = Array.from({ length: aMode === 'rows' ? mr : 1 }, () => f.local('i32'));
  const acc = Array.from({ length: mr }, () => Array.from({ length: nv }, () => f.local('v128')));
  const bv = Array.from({ length: nv }, () => f.local('v128'));
  const av = f.local('v128');

  const splat = type === 'f32' ? 'v128.load32_splat' : 'v128.load64_splat';
  const splatAlign = type === 'f32' ? 2 : 3;
  const vadd = type === 'f32' ? 'f32x4.add' : 'f64x2.add';
  const vmul = type === 'f32' ? 'f32x4.mul' : 'f64x2.mul';
  const vmadd = type === 'f32' ? 'f32x4.relaxed_madd' : 'f64x2.relaxed_madd';

  // kB = k·bStep (bytes of B walked per tile); ldcTile = MR·ldc.
  f.get(k).get(bStep).mul().set(kB);
  f.get(ldc).i32(mr).mul().set(ldcTile);
  f.i32(0).set(jp).get(b).set(bTile).get(c).set(cCol).get(bias).set(biasCol);
  f.loop(() => {
    f.i32(0).set(ip).get(a).set(aTile).get(cCol).set(cTile);
    f.loop(() => {
      for (const row of acc) for (const x of row) f.v128Zero().set(x);
      f.get(bTile).tee(pb).get(kB).add().set(pbEnd);
      if (aMode === 'cols') f.get(aTile).set(pa[0]);
      else for (let r = 0; r < mr; r++) f.get(aTile).get(aStride).i32(r).mul().add().set(pa[r]);
      f.loop(() => {
        for (let v = 0; v < nv; v++)
          f.get(pb)
            .simd('v128.load', { align: 4, offset: 16 * v })
            .set(bv[v]);
        for (let r = 0; r < mr; r++) {
          if (aMode === 'cols') f.get(pa[0]).simd(splat, { align: splatAlign, offset: r * es });
          else f.get(pa[r]).simd(splat, { align: splatAlign, offset: 0 });
          f.set(av);
          for (let v = 0; v < nv; v++) {
            if (fused) f.get(av).get(bv[v]).get(acc[r][v]).simd(vmadd).set(acc[r][v]);
            else f.get(acc[r][v]).get(av).get(bv[v]).simd(vmul).simd(vadd).set(acc[r][v]);
          }
        }
        if (aMode === 'cols') f.addLocal(pa[0], aStride);
        else for (let r = 0; r < mr; r++) f.addConst(pa[r], es);
        f.get(pb).get(bStep).add().tee(pb).get(pbEnd).ltU().brIf(0);
      });
      // With a bias (address ≠ 0), C = the rounded product + bias[j]: one vector add per vector.
      f.i32(0).get(bias).ltU();
      f.ifThen(() => {
        for (let v = 0; v < nv; v++) {
          f.get(biasCol)
            .simd('v128.load', { align: 4, offset: 16 * v })
            .set(bv[v]);
          for (let r = 0; r < mr; r++) f.get(acc[r][v]).get(bv[v]).simd(vadd).set(acc[r][v]);
        }
      });
      f.get(cTile).set(cRow);
      for (let r = 0; r < mr; r++) {
        for (let v = 0; v < nv; v++)
          f.get(cRow)
            .get(acc[r][v])
            .simd('v128.store', { align: 4, offset: 16 * v });
        if (r < mr - 1) f.addLocal(cRow, ldc);
      }
      f.addLocal(aTile, aPanel).addLocal(cTile, ldcTile);
      f.get(ip).i32(1).add().tee(ip).get(mPanels).ltU().brIf(0);
    });
    f.addLocal(bTile, bPanel)
      .addConst(cCol, nr * es)
      .addConst(biasCol, nr * es);
    f.get(jp).i32(1).add().tee(jp).get(nPanels).ltU().brIf(0);
  });
  return f;
}

/**
 * flush_f32(at, bytes): float32 subnormals in [at, at + bytes) become zeros of the same sign; bytes is
 * rounded up to whole 16-byte vectors. Arithmetic on subnormal operands takes a microcode assist on
 * x86 (WebAssembly cannot set flush-to-zero), so a char-GPT with grown weights — attention
 * probabilities and GELU outputs down near 1e-40 — ran its matmuls about 5× slower. Values below
 * 2^-126 contribute under 1e-38 to any product, so dropping them changes a result only where it held
 * subnormals. Done on the exponent bits as integers, so the pass itself never touches one as a float.
 */
export function buildFlushSubnormals(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32']);
  const [at, bytes] = [0, 1];
  const j = f.local('i32');
  const [exponent, magnitude, zero] = [f.local('v128'), f.local('v128'), f.local('v128')];
  f.i32(0).get(bytes).ltU(); // 0 < bytes
  f.ifThen(() => {
    constants(f, exponent, magnitude, zero);
    f.i32(0).set(j);
    f.loop(() => {
      f.get(at).get(j).add(); // store address, under the result
      flushed(
        f,
        () => f.get(at).get(j).add().simd('v128.load', { align: 4, offset: 0 }),
        exponent,
        magnitude,
        zero,
      );
      f.simd('v128.store', { align: 4, offset: 0 });
      f.get(j).i32(16).add().tee(j).get(bytes).ltU().brIf(0);
    });
  });
  return f;
}

// Opcodes (after the 0xFD prefix) the assembler's table lacks.
const I32X4_EQ = 0x37;
const V128_ANDNOT = 0x4f;

/** Sets the flush constants: the exponent bits, all bits but the sign, zero (i32 lanes). */
function constants(f: FunctionBuilder, exponent: number, magnitude: number, zero: number): void {
  f.i32(0x7f800000).simd('i32x4.splat').set(exponent);
  f.i32(0x7fffffff).simd('i32x4.splat').set(magnitude);
  f.v128Zero().set(zero);
}

/**
 * Pushes the vector `load` pushes with its float32 subnormals made signed zeros: v & ~(z & magnitude)
 * where z marks the lanes whose exponent bits are all zero (zeros stay as they are). Uses two locals'
 * worth of stack only; the constants come from `constants`.
 */
function flushed(
  f: FunctionBuilder,
  load: () => void,
  exponent: number,
  magnitude: number,
  zero: number,
): void {
  load();
  const v = f.local('v128');
  f.set(v).get(v); // v, under the mask
  f.get(v).get(exponent).simd('v128.and').get(zero).op(0xfd, I32X4_EQ);
  f.get(magnitude).simd('v128.and').op(0xfd, V128_ANDNOT);
}

/** Parameter order of the generated panel-packing functions (all i32, addresses and strides in bytes). */
export const PACK_PARAMS = ['src', 'srcRow', 'dst', 'rows', 'panels', 'dstPanel'] as const;

/**
 * Packs a row-major matrix (rows × panels·vecs·16 bytes, row stride srcRow) into column panels:
 * panel q (at dst + q·dstPanel) holds, row after row, the vecs·16 bytes of every row that fall in its
 * columns — the k-major strip one gemm tile walks, contiguous instead of one cache line (and every few
 * rows one page) per step. The caller packs a tall matrix a block of rows at a time (dst advanced by
 * rows·vecs·16), so that the block it reads stays in cache while every panel takes its slice. Values
 * are moved, never computed on; with `flush`, float32 subnormals become signed zeros on the way (the
 * same bits as buildFlushSubnormals). Preconditions: rows, panels ≥ 1.
 */
export function buildPackPanels(vecs: number, flush: boolean): FunctionBuilder {
  const f = new FunctionBuilder(PACK_PARAMS.map(() => 'i32'));
  const [src, srcRow, dst, rows, panels, dstPanel] = PACK_PARAMS.map((_, i) => i);
  const q = f.local('i32');
  const s = f.local('i32');
  const at = f.local('i32');
  const end = f.local('i32');
  const d = f.local('i32');
  const [exponent, magnitude, zero] = [f.local('v128'), f.local('v128'), f.local('v128')];
  if (flush) constants(f, exponent, magnitude, zero);
  f.i32(0).set(q).get(src).set(s).get(dst).set(d);
  f.loop(() => {
    // One panel: `rows` rows of vecs vectors, src column offset q·vecs·16.
    f.get(s).tee(at).get(srcRow).get(rows).mul().add().set(end);
    f.loop(() => {
      for (let v = 0; v < vecs; v++) {
        f.get(d); // store address, under the value
        const load = () => f.get(at).simd('v128.load', { align: 0, offset: 16 * v });
        if (flush) flushed(f, load, exponent, magnitude, zero);
        else load();
        f.simd('v128.store', { align: 4, offset: 16 * v });
      }
      f.addConst(d, 16 * vecs);
      f.get(at).get(srcRow).add().tee(at).get(end).ltU().brIf(0);
    });
    f.addConst(s, 16 * vecs);
    f.get(dst).get(dstPanel).add().tee(dst).set(d);
    f.get(q).i32(1).add().tee(q).get(panels).ltU().brIf(0);
  });
  return f;
}

/** Export name of `buildPackPanels`'s function for panels of vecs vectors: with flushing (f32) or without. */
export function packName(vecs: number, flush: boolean): string {
  return `pack${vecs}${flush ? '_flush_f32' : ''}`;
}

/** Parameter order of the generated transposing pack functions (all i32, addresses and strides in bytes). */
export const PACK_T_PARAMS = ['src', 'srcRow', 'dst', 'panelStride', 'panels', 'kBlocks'] as const;

/**
 * Packs op(B) for a B stored [n, k] (transB) into the column panels the gemm walks: src holds
 * panels·nr rows of kBlocks·lanes elements (row stride srcRow, zero-padded); panel q of dst (stride
 * panelStride) holds, for p = 0…kBlocks·lanes-1, the nr elements B[q·nr + j][p] contiguous. Works on
 * lanes×lanes blocks: lanes row vectors in, transposed by shuffles, lanes vectors out. Values are
 * moved, never computed on; with `flush` (f32 only), subnormals become signed zeros on the way.
 * Preconditions: panels, kBlocks ≥ 1; nr a multiple of the lane count.
 */
export function buildPackTransposed(type: WasmFloat, nr: number, flush: boolean): FunctionBuilder {
  const es = elementBytes(type);
  const lanes = 16 / es;
  const f = new FunctionBuilder(PACK_T_PARAMS.map(() => 'i32'));
  const [src, srcRow, dst, panelStride, panels, kBlocks] = PACK_T_PARAMS.map((_, i) => i);
  const [q, g, pb, sP, dP, sG, dG, x, d] = Array.from({ length: 9 }, () => f.local('i32'));
  const row = Array.from({ length: lanes }, () => f.local('v128'));
  const tmp = Array.from({ length: lanes }, () => f.local('v128'));
  const [exponent, magnitude, zero] = [f.local('v128'), f.local('v128'), f.local('v128')];
  if (flush) constants(f, exponent, magnitude, zero);
  // i8x16.shuffle of two vectors by 32-bit (f32) or 64-bit (f64) lane indices 0…7 / 0…3.
  const shuffle = (u: number, w: number, idx: readonly number[]): void => {
    const bytes = idx.flatMap((l) => Array.from({ length: es }, (_, b) => l * es + b));
    f.get(u)
      .get(w)
      .op(0xfd, 0x0d, ...bytes);
  };
  f.i32(0).set(q).get(src).set(sP).get(dst).set(dP);
  f.loop(() => {
    f.i32(0).set(g).get(sP).set(sG).get(dP).set(dG);
    f.loop(() => {
      f.i32(0).set(pb).get(sG).set(x).get(dG).set(d);
      f.loop(() => {
        // lanes rows of src, lanes elements each: row[i] = src row (q·nr + g·lanes + i), columns pb·lanes…
        for (let i = 0; i < lanes; i++) {
          f.get(x);
          if (i > 0) f.get(srcRow).i32(i).mul().add();
          f.simd('v128.load', { align: 0, offset: 0 }).set(row[i]);
        }
        const out: number[] = [];
        if (lanes === 4) {
          shuffle(row[0], row[1], [0, 4, 1, 5]);
          f.set(tmp[0]);
          shuffle(row[0], row[1], [2, 6, 3, 7]);
          f.set(tmp[1]);
          shuffle(row[2], row[3], [0, 4, 1, 5]);
          f.set(tmp[2]);
          shuffle(row[2], row[3], [2, 6, 3, 7]);
          f.set(tmp[3]);
          shuffle(tmp[0], tmp[2], [0, 1, 4, 5]);
          f.set(row[0]);
          shuffle(tmp[0], tmp[2], [2, 3, 6, 7]);
          f.set(row[1]);
          shuffle(tmp[1], tmp[3], [0, 1, 4, 5]);
          f.set(row[2]);
          shuffle(tmp[1], tmp[3], [2, 3, 6, 7]);
          f.set(row[3]);
          out.push(...row);
        } else {
          shuffle(row[0], row[1], [0, 2]);
          f.set(tmp[0]);
          shuffle(row[0], row[1], [1, 3]);
          f.set(tmp[1]);
          out.push(...tmp);
        }
        // Column p = pb·lanes + i of those rows goes to row p of the panel, at this group's lanes.
        for (let i = 0; i < lanes; i++) {
          f.get(d);
          if (flush) flushed(f, () => f.get(out[i]), exponent, magnitude, zero);
          else f.get(out[i]);
          f.simd('v128.store', { align: 4, offset: i * nr * es });
        }
        f.addConst(x, 16).addConst(d, lanes * nr * es);
        f.get(pb).i32(1).add().tee(pb).get(kBlocks).ltU().brIf(0);
      });
      f.get(sG).get(srcRow).i32(lanes).mul().add().set(sG);
      f.addConst(dG, 16);
      f.get(g)
        .i32(1)
        .add()
        .tee(g)
        .i32(nr / lanes)
        .ltU()
        .brIf(0);
    });
    f.get(sP).get(srcRow).i32(nr).mul().add().set(sP);
    f.addLocal(dP, panelStride);
    f.get(q).i32(1).add().tee(q).get(panels).ltU().brIf(0);
  });
  return f;
}

/** Export name of `buildPackTransposed`'s function for a type (f32: flushing). */
export function packTransposedName(type: WasmFloat): string {
  return `packt_${type}`;
}

/** Parameter order of the generated row-compacting function (all i32, addresses and sizes in bytes). */
export const COMPACT_PARAMS = ['c', 'from', 'to', 'rows'] as const;

/**
 * Moves rows 1…rows-1 of a matrix at c from row stride `from` to row stride `to` (< from), in place,
 * keeping the first `to` bytes of each: C computed over whole tiles becomes the m×n block that is
 * copied out in one piece. Vector moves, lowest address first (each destination lies below its
 * source); a row's last 16 bytes are loaded before the row is written and stored last, so no store
 * ever reaches past its row. Preconditions: rows ≥ 2, 16 ≤ to < from.
 */
export function buildCompactRows(): FunctionBuilder {
  const f = new FunctionBuilder(COMPACT_PARAMS.map(() => 'i32'));
  const [c, from, to, rows] = COMPACT_PARAMS.map((_, i) => i);
  const [i, src, dst, j, body] = Array.from({ length: 5 }, () => f.local('i32'));
  const tail = f.local('v128');
  f.get(to).i32(16).sub().set(body);
  f.i32(1).set(i).get(c).get(from).add().set(src).get(c).get(to).add().set(dst);
  f.loop(() => {
    f.get(src).get(body).add().simd('v128.load', { align: 0, offset: 0 }).set(tail);
    f.i32(0).get(body).ltU(); // 0 < body
    f.ifThen(() => {
      f.i32(0).set(j);
      f.loop(() => {
        f.get(dst).get(j).add();
        f.get(src).get(j).add().simd('v128.load', { align: 0, offset: 0 });
        f.simd('v128.store', { align: 0, offset: 0 });
        f.get(j).i32(16).add().tee(j).get(body).ltU().brIf(0);
      });
    });
    f.get(dst).get(body).add().get(tail).simd('v128.store', { align: 0, offset: 0 });
    f.addLocal(src, from).addLocal(dst, to);
    f.get(i).i32(1).add().tee(i).get(rows).ltU().brIf(0);
  });
  return f;
}

/** Export name of `buildCompactRows`'s function. */
export const COMPACT_ROWS = 'compact_rows';

/** Export name of `buildFlushSubnormals`'s function. */
export const FLUSH_SUBNORMALS = 'flush_f32';

/** Export names of the generated functions. */
export function gemmName(type: WasmFloat, aMode: AMode): string {
  return `gemm_${type}_${aMode}`;
}

/** The module: gemm_{f32,f64}_{cols,rows}, the packs, flush_f32, compact_rows and its memory. */
export function buildGemmModule(f32: GemmShape, f64: GemmShape): Uint8Array {
  const fns: ExportedFunction[] = [];
  for (const shape of [f32, f64]) {
    for (const mode of ['cols', 'rows'] as const)
      fns.push({ name: gemmName(shape.type, mode), fn: buildGemm(shape, mode) });
  }
  fns.push({ name: FLUSH_SUBNORMALS, fn: buildFlushSubnormals() });
  fns.push({ name: COMPACT_ROWS, fn: buildCompactRows() });
  // Panel packs for every whole-vector tile width: A panels mr wide, B panels nr wide.
  const packs = new Map<string, FunctionBuilder>();
  for (const shape of [f32, f64])
    for (const width of [shape.mr, shape.nr]) {
      const bytes = width * elementBytes(shape.type);
      const flush = shape.type === 'f32';
      if (bytes % 16 === 0 && !packs.has(packName(bytes / 16, flush)))
        packs.set(packName(bytes / 16, flush), buildPackPanels(bytes / 16, flush));
    }
  for (const [name, fn] of packs) fns.push({ name, fn });
  for (const shape of [f32, f64])
    fns.push({
      name: packTransposedName(shape.type),
      fn: buildPackTransposed(shape.type, shape.nr, shape.type === 'f32'),
    });
  return assembleModule(fns);
}

/** A tiny module using f32x4 arithmetic: valid only where the engine has fixed-width SIMD. */
export function simdProbe(): Uint8Array {
  const f = new FunctionBuilder([]);
  f.v128Zero().v128Zero().simd('f32x4.add').op(0x1a); // drop
  return assembleModule([{ name: 'probe', fn: f }]);
}

/** A tiny module using relaxed_madd: valid only where the engine has relaxed SIMD. */
export function relaxedSimdProbe(): Uint8Array {
  const f = new FunctionBuilder([]);
  f.v128Zero().v128Zero().v128Zero().simd('f32x4.relaxed_madd').op(0x1a); // drop
  return assembleModule([{ name: 'probe', fn: f }]);
}
