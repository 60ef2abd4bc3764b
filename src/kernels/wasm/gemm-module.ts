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
 * transposed or not (the caller only transposes a B stored [n, k]):
 *   A element (r, p) of row panel ip: a + ip·aPanel + r·aRow + p·aStep
 *     mode 'cols' (aRow = element size, A stored k-major, i.e. transposed) or
 *     mode 'rows' (aStep = element size, aRow = a run-time row stride: A stored m-major);
 *   B element (p, j) of column panel jp: b + jp·bPanel + p·bStep + j·elementSize (rows of B contiguous);
 *   C element (r, j) of tile (ip, jp): c + ip·MR·ldc + jp·NR·elementSize + r·ldc + j·elementSize.
 * Every tile of C is overwritten (never accumulated), so stale memory cannot leak into results.
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
  const [a, aPanel, aStride, b, bPanel, bStep, c, ldc, mPanels, nPanels, k] = GEMM_PARAMS.map((_, i) => i);

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
  f.i32(0).set(jp).get(b).set(bTile).get(c).set(cCol);
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
    f.addLocal(bTile, bPanel).addConst(cCol, nr * es);
    f.get(jp).i32(1).add().tee(jp).get(nPanels).ltU().brIf(0);
  });
  return f;
}

/** Parameter order of the generated row-bias functions (all i32, addresses and strides in bytes). */
export const ADD_ROWS_PARAMS = ['c', 'ldc', 'rows', 'bias', 'rowBytes'] as const;

/**
 * C[r][j] += bias[j] for `rows` rows of `rowBytes` bytes (a multiple of 16) at stride ldc: a Linear
 * layer's bias on its product while the product is still in linear memory. One f32x4/f64x2 add per
 * vector, the same IEEE sum per element as a scalar add. Preconditions: rows ≥ 1, rowBytes ≥ 16.
 */
export function buildAddRows(type: WasmFloat): FunctionBuilder {
  const f = new FunctionBuilder(ADD_ROWS_PARAMS.map(() => 'i32'));
  const [c, ldc, rows, bias, rowBytes] = ADD_ROWS_PARAMS.map((_, i) => i);
  const r = f.local('i32');
  const j = f.local('i32');
  const at = f.local('i32');
  const vadd = type === 'f32' ? 'f32x4.add' : 'f64x2.add';
  f.i32(0).set(r);
  f.loop(() => {
    f.i32(0).set(j);
    f.loop(() => {
      f.get(c).get(j).add().tee(at); // store address, under the sum
      f.get(at).simd('v128.load', { align: 4, offset: 0 });
      f.get(bias).get(j).add().simd('v128.load', { align: 4, offset: 0 });
      f.simd(vadd).simd('v128.store', { align: 4, offset: 0 });
      f.get(j).i32(16).add().tee(j).get(rowBytes).ltU().brIf(0);
    });
    f.addLocal(c, ldc);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
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
  const v = f.local('v128');
  f.i32(0).get(bytes).ltU(); // 0 < bytes
  f.ifThen(() => {
    f.i32(0).set(j);
    f.loop(() => {
      f.get(at).get(j).add(); // store address, under the result
      f.get(at).get(j).add().simd('v128.load', { align: 4, offset: 0 }).set(v);
      f.get(v); // kept where the exponent is non-zero …
      f.get(v).i32(-0x80000000).simd('i32x4.splat').simd('v128.and'); // … else its sign alone
      f.get(v).i32(0x7f800000).simd('i32x4.splat').simd('v128.and').v128Zero().simd('i32x4.ne');
      f.simd('v128.bitselect').simd('v128.store', { align: 4, offset: 0 });
      f.get(j).i32(16).add().tee(j).get(bytes).ltU().brIf(0);
    });
  });
  return f;
}

/** Export name of `buildFlushSubnormals`'s function. */
export const FLUSH_SUBNORMALS = 'flush_f32';

/** Export name of the row-bias function of a type. */
export function addRowsName(type: WasmFloat): string {
  return `addrows_${type}`;
}

/** Export names of the generated functions. */
export function gemmName(type: WasmFloat, aMode: AMode): string {
  return `gemm_${type}_${aMode}`;
}

/** The module: gemm_{f32,f64}_{cols,rows}, addrows_{f32,f64}, flush_f32 and its memory. */
export function buildGemmModule(f32: GemmShape, f64: GemmShape): Uint8Array {
  const fns: ExportedFunction[] = [];
  for (const shape of [f32, f64]) {
    for (const mode of ['cols', 'rows'] as const)
      fns.push({ name: gemmName(shape.type, mode), fn: buildGemm(shape, mode) });
    fns.push({ name: addRowsName(shape.type), fn: buildAddRows(shape.type) });
  }
  fns.push({ name: FLUSH_SUBNORMALS, fn: buildFlushSubnormals() });
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
