/**
 * The wasm matmul's whole-batch layout (evenly strided batches whose tiles need no padding: the
 * attention products) against its item-by-item loop: every element the same bits, with the fused
 * (relaxed-SIMD) kernel and without, float32 (subnormal operands included) and float64, with and
 * without a bias, on the sizes at the edges of the whole-batch conditions and on sizes just outside
 * them (which take the item loop either way). The item loop itself is checked against a scalar
 * in-order product in matmul-order.test.ts, on the char-GPT attention shapes among others.
 */
import t from 'tap';
import { WasmMatmul, wasmSimdSupported } from '../../src/kernels/wasm/matmul.js';
import { type Ctor, type FloatArray, spec } from './matmul-check.js';

/** Deterministic operands in [-1, 1) with exact zeros and (float32) subnormals among them. */
function operand(Ctor: Ctor, n: number, seed: number): FloatArray {
  const out = new Ctor(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = (s / 2 ** 32) * 2 - 1;
    out[i] = i % 9 === 0 ? 0 : Ctor === Float32Array && i % 7 === 0 ? u * 2 ** -130 : u;
  }
  return out;
}

function sameBits(x: FloatArray, y: FloatArray): boolean {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
    Buffer.from(y.buffer, y.byteOffset, y.byteLength),
  );
}

// [batch, m, n, k]: tile multiples (f32 4×8, f64 4×4) with k from 1 up, the attention shapes, and
// sizes with a partial tile in m or n.
const SHAPES = [
  [2, 4, 8, 1],
  [3, 4, 8, 4],
  [5, 8, 16, 3],
  [4, 12, 24, 8],
  [16, 64, 64, 16],
  [16, 64, 16, 64],
  [3, 5, 8, 4],
  [3, 4, 7, 4],
  [7, 9, 13, 6],
] as const;

t.test('whole-batch layout gives the item loop’s bits', { skip: !wasmSimdSupported() }, async (t) => {
  for (const fused of [false, true]) {
    const bulk = new WasmMatmul({ fused });
    const items = new WasmMatmul({ fused, bulkBatches: false });
    for (const Ctor of [Float32Array, Float64Array])
      for (const [batch, m, n, k] of SHAPES)
        for (const tA of [false, true])
          for (const tB of [false, true])
            for (const withBias of [false, true]) {
              const seed = batch * 1000 + m * 100 + n * 10 + k;
              // Items one after another from an odd offset: the evenly strided batch of a sliced tensor.
              const a = operand(Ctor, 3 + batch * m * k, seed);
              const b = operand(Ctor, 5 + batch * n * k, seed + 1);
              const bias = withBias ? operand(Ctor, n, seed + 2) : undefined;
              const s = spec(
                m,
                n,
                k,
                tA,
                tB,
                Array.from({ length: batch }, (_, i) => 3 + i * m * k),
                Array.from({ length: batch }, (_, i) => 5 + i * n * k),
              );
              const want = new Ctor(batch * m * n).fill(NaN);
              const got = new Ctor(batch * m * n).fill(NaN);
              items.run(a, b, want, s, bias);
              bulk.run(a, b, got, s, bias);
              const label = `${fused ? 'fused' : 'unfused'} ${Ctor.name} b${batch} m${m} n${n} k${k}${tA ? ' tA' : ''}${tB ? ' tB' : ''}${withBias ? ' +bias' : ''}`;
              t.ok(sameBits(got, want), label);
            }
  }
});

t.test(
  'a batch that is not evenly strided still takes the item loop',
  { skip: !wasmSimdSupported() },
  async (t) => {
    // Broadcast A (every item reads item 0) next to a batch laid out one after another.
    const w = new WasmMatmul();
    const a = operand(Float32Array, 4 * 8, 1);
    const b = operand(Float32Array, 3 * 8 * 8, 2);
    const s = spec(4, 8, 8, false, false, [0, 0, 0], [0, 64, 128]);
    const got = new Float32Array(3 * 4 * 8).fill(NaN);
    w.run(a, b, got, s);
    const one = new Float32Array(4 * 8);
    for (let i = 0; i < 3; i++) {
      w.run(a, b.subarray(i * 64, i * 64 + 64), one, spec(4, 8, 8, false, false));
      t.ok(sameBits(got.subarray(i * 32, i * 32 + 32), one), `item ${i}`);
    }
  },
);
