/**
 * The wasm matmul (unfused kernel) is bit-for-bit a plain in-order product: every element is
 * 0 + a₀b₀ + a₁b₁ + … accumulated in order over k, each product and each sum rounded to the element
 * type, float32 subnormal operands read as zeros of their sign, and a bias added after the product
 * is rounded. Whatever the kernel does with layout (packed panels, transposes, tile order, batching),
 * these are the values it must produce — checked here against a scalar reference on the shapes of a
 * char-GPT step (long k with transA, batched attention products, forward products with bias) and on
 * odd sizes that leave partial tiles in every direction.
 */
import t, { type Test } from 'tap';
import type { MatmulSpec } from '../../src/kernels/registry.js';
import { WasmMatmul, wasmSimdSupported } from '../../src/kernels/wasm/matmul.js';
import { type Ctor, type FloatArray, spec } from './matmul-check.js';

const TINY = 2 ** -126;

/** Deterministic operands: mostly in [-1, 1), with exact zeros, a few large values and (f32) subnormals. */
function operand(Ctor: Ctor, n: number, seed: number): FloatArray {
  const out = new Ctor(n);
  let s = (seed * 2654435761) >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  for (let i = 0; i < n; i++) {
    const u = next();
    const v = next();
    if (i % 11 === 0) out[i] = 0;
    else if (i % 13 === 0) out[i] = v * 1e4;
    else if (Ctor === Float32Array && i % 7 === 0) out[i] = v * TINY;
    else out[i] = u;
  }
  return out;
}

/** The in-order reference: float32 via Math.fround on exact double products and sums (no double rounding issue for + and ×). */
function reference(
  a: FloatArray,
  b: FloatArray,
  s: MatmulSpec,
  bias: FloatArray | undefined,
  f32: boolean,
): FloatArray {
  const { batch, m, n, k, transA, transB, aOffsets, bOffsets } = s;
  const flush = (x: number) => (Math.abs(x) < TINY ? (x < 0 || Object.is(x, -0) ? -0 : 0) : x);
  const fa = f32 ? a.map(flush) : a;
  const fb = f32 ? b.map(flush) : b;
  const out = f32 ? new Float32Array(batch * m * n) : new Float64Array(batch * m * n);
  const fround = Math.fround;
  for (let t = 0; t < batch; t++) {
    const ao = aOffsets[t];
    const bo = bOffsets[t];
    // Element (i, p) of A and (p, j) of B at base + p·step.
    const [aRow, aStep] = transA ? [1, m] : [k, 1];
    const [bCol, bStep] = transB ? [k, 1] : [1, n];
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let x = ao + i * aRow;
        let y = bo + j * bCol;
        let acc = 0;
        if (f32)
          for (let p = 0; p < k; p++, x += aStep, y += bStep) acc = fround(acc + fround(fa[x] * fb[y]));
        else for (let p = 0; p < k; p++, x += aStep, y += bStep) acc = acc + fa[x] * fb[y];
        out[t * m * n + i * n + j] = bias ? (f32 ? fround(acc + bias[j]) : acc + bias[j]) : acc;
      }
  }
  return out;
}

/** Index of the first element whose bits differ (NaN-poisoned output catches unwritten elements), or -1. */
function firstDifference(got: FloatArray, want: FloatArray): number {
  const g = new Uint8Array(got.buffer, got.byteOffset, got.byteLength);
  const w = new Uint8Array(want.buffer, want.byteOffset, want.byteLength);
  const es = got.BYTES_PER_ELEMENT;
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) return Math.floor(i / es);
  return -1;
}

interface Case {
  readonly name: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly tA: boolean;
  readonly tB: boolean;
  readonly bias?: boolean;
  /** Items of A and B in their buffers, and the item each batch entry reads. */
  readonly aItems?: readonly number[];
  readonly bItems?: readonly number[];
}

function check(t: Test, w: WasmMatmul, Ctor: Ctor, c: Case, label = ''): void {
  const aItems = c.aItems ?? [0];
  const bItems = c.bItems ?? [0];
  const aSize = c.m * c.k;
  const bSize = c.k * c.n;
  const seed = c.m * 31 + c.n * 17 + c.k;
  // One element of slack before each buffer's items: operands start at odd offsets too.
  const a = operand(Ctor, 1 + (Math.max(...aItems) + 1) * aSize, seed);
  const b = operand(Ctor, 1 + (Math.max(...bItems) + 1) * bSize, seed + 1);
  const bias = c.bias ? operand(Ctor, c.n, seed + 2) : undefined;
  const s = spec(
    c.m,
    c.n,
    c.k,
    c.tA,
    c.tB,
    aItems.map((x) => 1 + x * aSize),
    bItems.map((x) => 1 + x * bSize),
  );
  const got = new Ctor(s.batch * c.m * c.n).fill(NaN);
  w.run(a, b, got, s, bias);
  const want = reference(a, b, s, bias, Ctor === Float32Array);
  const at = firstDifference(got, want);
  t.equal(
    at,
    -1,
    `${label}${Ctor.name} ${c.name}${at < 0 ? '' : `: element ${at} is ${got[at]}, in-order ${want[at]}`}`,
  );
}

const GPT: Case[] = [
  { name: 'weight gradient m256 n64 k2048 transA', m: 256, n: 64, k: 2048, tA: true, tB: false },
  { name: 'weight gradient m64 n256 k2048 transA', m: 64, n: 256, k: 2048, tA: true, tB: false },
  { name: 'forward m2048 n256 k64 transB + bias', m: 2048, n: 256, k: 64, tA: false, tB: true, bias: true },
  { name: 'input gradient m2048 n64 k256', m: 2048, n: 64, k: 256, tA: false, tB: false },
  {
    name: 'attention scores b8 m64 n64 k16 transB',
    m: 64,
    n: 64,
    k: 16,
    tA: false,
    tB: true,
    aItems: [0, 1, 2, 3, 4, 5, 6, 7],
    bItems: [0, 1, 2, 3, 4, 5, 6, 7],
  },
  {
    name: 'attention·V b8 m64 n16 k64',
    m: 64,
    n: 16,
    k: 64,
    tA: false,
    tB: false,
    aItems: [0, 1, 2, 3, 4, 5, 6, 7],
    bItems: [0, 1, 2, 3, 4, 5, 6, 7],
  },
  {
    name: 'attention gradient b8 m64 n16 k64 transA',
    m: 64,
    n: 16,
    k: 64,
    tA: true,
    tB: false,
    aItems: [0, 1, 2, 3, 4, 5, 6, 7],
    bItems: [0, 1, 2, 3, 4, 5, 6, 7],
  },
];

// Odd sizes: partial tiles in m and n, k not a multiple of the lane count, operands large enough to
// be packed (and small ones that are not), every transpose combination, with and without a bias.
const ODD: Case[] = [];
for (const [m, n, k] of [
  [37, 29, 1031],
  [5, 3, 3001],
  [130, 75, 67],
  [1, 1, 1],
  [9, 17, 2],
])
  for (const tA of [false, true])
    for (const tB of [false, true])
      for (const bias of [false, true])
        ODD.push({
          name: `m${m} n${n} k${k}${tA ? ' tA' : ''}${tB ? ' tB' : ''}${bias ? ' +bias' : ''}`,
          m,
          n,
          k,
          tA,
          tB,
          bias,
        });

// Batches that broadcast one operand, repeat and alternate items, on packed and unpacked sizes.
const BATCHED: Case[] = [];
for (const [m, n, k] of [
  [13, 11, 700],
  [6, 10, 5],
])
  for (const tA of [false, true])
    for (const tB of [false, true])
      BATCHED.push({
        name: `b5 m${m} n${n} k${k}${tA ? ' tA' : ''}${tB ? ' tB' : ''} broadcast`,
        m,
        n,
        k,
        tA,
        tB,
        bias: tB,
        aItems: [0, 0, 1, 1, 0],
        bItems: [2, 0, 1, 2, 2],
      });

t.test('wasm matmul is bit-identical to in-order accumulation', { skip: !wasmSimdSupported() }, async (t) => {
  const w = new WasmMatmul({ fused: false });
  for (const c of GPT) check(t, w, Float32Array, c);
  for (const Ctor of [Float32Array, Float64Array]) for (const c of [...ODD, ...BATCHED]) check(t, w, Ctor, c);
  // A small product after large ones reuses memory without seeing their data.
  check(t, w, Float32Array, ODD[ODD.length - 1]);
});

t.test('other tile shapes keep the in-order values', { skip: !wasmSimdSupported() }, async (t) => {
  for (const [f32Tile, f64Tile] of [
    [
      [6, 8],
      [2, 8],
    ],
    [
      [3, 12],
      [5, 6],
    ],
    [
      [1, 4],
      [1, 2],
    ],
  ] as [number, number][][]) {
    const w = new WasmMatmul({
      fused: false,
      f32Tile: f32Tile as [number, number],
      f64Tile: f64Tile as [number, number],
    });
    for (const Ctor of [Float32Array, Float64Array])
      for (const c of ODD.filter((x) => x.k === 1031 || x.k === 67))
        check(t, w, Ctor, c, `tiles ${f32Tile}/${f64Tile} `);
  }
});
