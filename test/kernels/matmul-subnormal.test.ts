/**
 * The wasm matmul drops float32 subnormal operands (arithmetic on them takes a microcode assist on x86
 * and made a grown char-GPT's matmuls ~5× slower): a product with subnormal inputs must equal, bit for
 * bit, the same product with those inputs replaced by zeros of their sign, for every layout.
 */
import t from 'tap';
import { wasmMatmul } from '../../src/kernels/wasm/index.js';
import { spec } from './matmul-check.js';

const TINY = 2 ** -126;

function operand(n: number, seed: number): Float32Array {
  let s = seed;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  // A third of the values subnormal (down to 2^-149), some of them negative; the rest of order 1.
  return Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? next() * TINY : next()));
}

const flushed = (x: Float32Array) =>
  x.map((v) => (Math.abs(v) < TINY ? (Object.is(v, -0) || v < 0 ? -0 : 0) : v));

t.test(
  'subnormal operands act as signed zeros, bit for bit, in every layout',
  { skip: !wasmMatmul },
  async (t) => {
    const kernel = wasmMatmul!.kernel;
    for (const [m, n, k] of [
      [5, 7, 3],
      [64, 16, 64],
      [9, 33, 17],
    ])
      for (const tA of [false, true])
        for (const tB of [false, true]) {
          const a = operand(m * k, m + 7 * k);
          const b = operand(k * n, n + 11 * k);
          const s = spec(m, n, k, tA, tB);
          const got = new Float32Array(m * n).fill(NaN);
          const want = new Float32Array(m * n).fill(NaN);
          kernel(a, b, got, s);
          kernel(flushed(a), flushed(b), want, s);
          let same = true;
          for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) same = false;
          t.ok(same, `${m}×${k}·${k}×${n} transA ${tA} transB ${tB}`);
          // And the result is the float64 product of the flushed operands, to float32 precision.
          const fa = flushed(a);
          const fb = flushed(b);
          let worst = 0;
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              let acc = 0;
              for (let p = 0; p < k; p++)
                acc += fa[tA ? p * m + i : i * k + p] * fb[tB ? j * k + p : p * n + j];
              worst = Math.max(worst, Math.abs(got[i * n + j] - acc) / Math.max(1, Math.abs(acc)));
            }
          t.ok(worst < 1e-5, `against float64: ${worst}`);
        }
  },
);

t.test('values at and above 2^-126, infinities and NaN pass unchanged', { skip: !wasmMatmul }, async (t) => {
  const kernel = wasmMatmul!.kernel;
  // [1, 4] · [4, 1] picks out one operand value at a time against a unit vector.
  for (const v of [TINY, -TINY, 1.5 * TINY, 3e38, Infinity, -Infinity]) {
    const out = new Float32Array(1).fill(NaN);
    kernel(Float32Array.of(v, 0, 0, 0), Float32Array.of(1, 0, 0, 0), out, spec(1, 1, 4, false, false));
    t.equal(out[0], Math.fround(v), `${v}`);
  }
  const out = new Float32Array(1);
  kernel(Float32Array.of(NaN, 0, 0, 0), Float32Array.of(1, 0, 0, 0), out, spec(1, 1, 4, false, false));
  t.ok(Number.isNaN(out[0]), 'NaN');
  kernel(
    Float32Array.of(TINY / 2, 0, 0, 0),
    Float32Array.of(2 ** 126, 0, 0, 0),
    out,
    spec(1, 1, 4, false, false),
  );
  t.equal(out[0], 0, 'a subnormal times 2^126 is 0, not 0.5');
});
