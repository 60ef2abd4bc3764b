/**
 * Tiled matmul written directly in WGSL — what gpu.js cannot express (workgroup memory, barriers).
 * Runs on the same Dawn device as the gpu.js kernels and reads/writes the same buffers.
 *
 * A workgroup computes a BM×BN block of C; its (BN/TN)×(BM/TM) threads each hold a TM×TN block of
 * accumulators in registers (strided: thread (tx, ty) owns rows ty + i·(BM/TM), columns
 * tx + j·(BN/TN), so shared-memory reads and global writes are consecutive across a warp). Each step
 * stages a BM×BK slice of A and a BK×BN slice of B in workgroup memory (zero-filled past the edges),
 * so every global element is loaded once per block instead of once per output. The four transpose
 * forms differ only in how the tiles are loaded. Loops over TM, TN and BK are unrolled in the
 * generated text; accumulation is float32 fma in k order.
 */

export interface WgslMatmulConfig {
  readonly BM: number;
  readonly BN: number;
  readonly BK: number;
  readonly TM: number;
  readonly TN: number;
}

/** 64×64 blocks, 4×4 per thread, 256 threads, 8 KiB of workgroup memory. */
export const WGSL_MATMUL_64: WgslMatmulConfig = { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4 };
/** 128×128 blocks, 8×8 per thread, 256 threads, 8 KiB of workgroup memory. */
export const WGSL_MATMUL_128: WgslMatmulConfig = { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8 };
/** 32×32 blocks, 4×2 per thread, 128 threads: fits compatibility-mode defaults. */
export const WGSL_MATMUL_SMALL: WgslMatmulConfig = { BM: 32, BN: 32, BK: 16, TM: 4, TN: 2 };

export function threadsOf(c: WgslMatmulConfig): number {
  return (c.BM / c.TM) * (c.BN / c.TN);
}

export function workgroupBytesOf(c: WgslMatmulConfig): number {
  return (c.BK * c.BM + c.BK * c.BN) * 4;
}

/** Byte size of the uniform block: M N K batch aOff bOff cOff aStride bStride cStride (+2 pad). */
export const MATMUL_UNIFORM_BYTES = 48;

export function wgslMatmulSource(transA: boolean, transB: boolean, c: WgslMatmulConfig): string {
  const { BM, BN, BK, TM, TN } = c;
  const WX = BN / TN;
  const WY = BM / TM;
  const NT = WX * WY;
  if (!Number.isInteger(WX) || !Number.isInteger(WY))
    throw new Error('wgsl matmul: BM/TM and BN/TN must be integers');
  if ((BM * BK) % NT !== 0 || (BN * BK) % NT !== 0)
    throw new Error('wgsl matmul: tile loads must divide evenly among threads');
  const L: string[] = [];
  L.push(`struct P { M : u32, N : u32, K : u32, batch : u32, aOff : u32, bOff : u32, cOff : u32, aStride : u32, bStride : u32, cStride : u32, pad0 : u32, pad1 : u32 }
@group(0) @binding(0) var<uniform> p : P;
@group(0) @binding(1) var<storage, read> A : array<f32>;
@group(0) @binding(2) var<storage, read> B : array<f32>;
@group(0) @binding(3) var<storage, read_write> C : array<f32>;
var<workgroup> As : array<f32, ${BK * BM}>;
var<workgroup> Bs : array<f32, ${BK * BN}>;
@compute @workgroup_size(${WX}, ${WY}, 1)
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>, @builtin(local_invocation_index) li : u32) {
  let row0 = wg.y * ${BM}u;
  let col0 = wg.x * ${BN}u;
  let aBase = p.aOff + wg.z * p.aStride;
  let bBase = p.bOff + wg.z * p.bStride;
  let cBase = p.cOff + wg.z * p.cStride;
  let tx = lid.x;
  let ty = lid.y;`);
  for (let i = 0; i < TM; i++) for (let j = 0; j < TN; j++) L.push(`  var c${i}_${j} : f32 = 0.0;`);
  L.push(`  for (var k0 = 0u; k0 < p.K; k0 = k0 + ${BK}u) {`);
  // A tile: element (r, kk) of op(A), stored As[kk·BM + r]
  for (let t = 0; t < (BM * BK) / NT; t++) {
    const e = `(li + ${t * NT}u)`;
    const [r, kk] = transA ? [`${e} % ${BM}u`, `${e} / ${BM}u`] : [`${e} / ${BK}u`, `${e} % ${BK}u`];
    const idx = transA ? `aBase + gk * p.M + gr` : `aBase + gr * p.K + gk`;
    L.push(`    {
      let r = ${r};
      let kk = ${kk};
      let gr = row0 + r;
      let gk = k0 + kk;
      var v : f32 = 0.0;
      if (gr < p.M && gk < p.K) { v = A[${idx}]; }
      As[kk * ${BM}u + r] = v;
    }`);
  }
  // B tile: element (kk, c) of op(B), stored Bs[kk·BN + c]
  for (let t = 0; t < (BN * BK) / NT; t++) {
    const e = `(li + ${t * NT}u)`;
    const [cc, kk] = transB ? [`${e} / ${BK}u`, `${e} % ${BK}u`] : [`${e} % ${BN}u`, `${e} / ${BN}u`];
    const idx = transB ? `bBase + gc * p.K + gk` : `bBase + gk * p.N + gc`;
    L.push(`    {
      let cc = ${cc};
      let kk = ${kk};
      let gc = col0 + cc;
      let gk = k0 + kk;
      var v : f32 = 0.0;
      if (gc < p.N && gk < p.K) { v = B[${idx}]; }
      Bs[kk * ${BN}u + cc] = v;
    }`);
  }
  L.push('    workgroupBarrier();');
  for (let kk = 0; kk < BK; kk++) {
    L.push('    {');
    for (let i = 0; i < TM; i++) L.push(`      let a${i} = As[${kk * BM}u + ty + ${i * WY}u];`);
    for (let j = 0; j < TN; j++) L.push(`      let b${j} = Bs[${kk * BN}u + tx + ${j * WX}u];`);
    for (let i = 0; i < TM; i++)
      for (let j = 0; j < TN; j++) L.push(`      c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
    L.push('    }');
  }
  L.push('    workgroupBarrier();');
  L.push('  }');
  for (let i = 0; i < TM; i++) {
    L.push(`  {
    let r = row0 + ty + ${i * WY}u;
    if (r < p.M) {`);
    for (let j = 0; j < TN; j++) {
      L.push(
        `      { let cc = col0 + tx + ${j * WX}u; if (cc < p.N) { C[cBase + r * p.N + cc] = c${i}_${j}; } }`,
      );
    }
    L.push('    }\n  }');
  }
  L.push('}');
  return L.join('\n');
}
