/**
 * The synchronous gpu.js kernels (webasm and cpu modes) registered with the kernel registry, against
 * the CPU references on fresh random inputs with NaN-poisoned outputs (an element a kernel skips
 * fails), at sizes that are not multiples of anything (1, 7, 33, 130, 257).
 *
 * Tolerances: elementwise ops relative 1e-5 (float32 evaluation of exp/log/tanh against the
 * reference's float64-then-round); matmul |err| ≤ 2·√k·eps32·Σ_p|a_ip·b_pj| (float32 accumulation
 * over k terms against the reference's float64 sums), computed per element.
 */
import t from 'tap';
import '../../src/kernels/cpu/register.js';
import { kernelFor, type BinaryOp, type MatmulSpec, type UnaryOp } from '../../src/kernels/registry.js';
import { registerGpuJsKernels, type SyncGpuJsMode } from '../../src/kernels/gpujs/sync.js';
import { EPS32, assertWithin, awayF32, randF32, relTol } from './fixtures/helpers.js';

const SIZES = [1, 7, 33, 130, 257];
const MODES: SyncGpuJsMode[] = ['webasm', 'cpu'];

function spec(m: number, n: number, k: number, transA: boolean, transB: boolean, batch = 1): MatmulSpec {
  return {
    batch,
    m,
    n,
    k,
    transA,
    transB,
    aOffsets: Int32Array.from({ length: batch }, (_, i) => i * m * k),
    bOffsets: Int32Array.from({ length: batch }, (_, i) => i * k * n),
  };
}

/** Per-element matmul tolerance 2·√k·eps·Σ|a||b| from the reference run on |A|, |B|. */
function matmulTol(a: Float32Array, b: Float32Array, s: MatmulSpec): (i: number) => number {
  const absOut = new Float32Array(s.batch * s.m * s.n);
  kernelFor('matmul', 'cpu')!(a.map(Math.abs), b.map(Math.abs), absOut, s);
  const c = 2 * Math.sqrt(s.k) * EPS32;
  return (i) => c * absOut[i] + 1e-30;
}

for (const mode of MODES) {
  const backend = registerGpuJsKernels(mode);
  const sizes = mode === 'cpu' ? [1, 7, 33] : SIZES;

  t.test(
    `${backend}: one output size with another inner size (k) reuses no kernel laid out for the first`,
    async (t) => {
      // webasm kernels are laid out for the argument sizes of their first call and threw on a change.
      for (const k of [2, 3, 2]) {
        const s = spec(2, 2, k, false, false);
        const a = randF32(2 * k, -1, 1, k, 'a');
        const b = randF32(k * 2, -1, 1, k, 'b');
        const want = new Float32Array(4);
        kernelFor('matmul', 'cpu')!(a, b, want, s);
        const got = new Float32Array(4).fill(NaN);
        kernelFor('matmul', backend)!(a, b, got, s);
        assertWithin(t, got, want, matmulTol(a, b, s), `2×2×${k}`);
      }
    },
  );

  t.test(`${backend}: affine (x·wᵀ + bias) against the CPU reference`, async (t) => {
    for (const [rows, n, k] of [
      [1, 1, 1],
      [7, 33, 5],
    ] as const) {
      const x = randF32(rows * k, -1, 1, rows, 'affine-x');
      const w = randF32(n * k, -1, 1, n, 'affine-w');
      const bias = randF32(n, -1, 1, k, 'affine-b');
      const want = new Float32Array(rows * n);
      kernelFor('affine', 'cpu')!(x, w, bias, want, rows, k, n);
      const got = new Float32Array(rows * n).fill(NaN);
      kernelFor('affine', backend)!(x, w, bias, got, rows, k, n);
      const productTol = matmulTol(x, w, spec(rows, n, k, false, true));
      assertWithin(t, got, want, (i) => productTol(i) + EPS32 * Math.abs(want[i]), `${rows}×${n}×${k}`);
    }
  });

  t.test(`${backend}: matmul, all transpose forms`, async (t) => {
    const shapes: [number, number, number][] =
      mode === 'cpu'
        ? [
            [1, 1, 1],
            [7, 33, 5],
          ]
        : [
            [1, 1, 1],
            [7, 33, 5],
            [33, 7, 130],
            [130, 33, 257],
            [3, 5, 1100], // k past gpu.js's default 1000-iteration loop cap
          ];
    let seed = 0;
    for (const [m, n, k] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const batch = m * n * k < 5000 ? 2 : 1;
          const s = spec(m, n, k, transA, transB, batch);
          const a = randF32(batch * m * k, -1, 1, ++seed, 'a');
          const b = randF32(batch * k * n, -1, 1, seed, 'b');
          const want = new Float32Array(batch * m * n);
          kernelFor('matmul', 'cpu')!(a, b, want, s);
          const got = new Float32Array(batch * m * n).fill(NaN);
          kernelFor('matmul', backend)!(a, b, got, s);
          assertWithin(
            t,
            got,
            want,
            matmulTol(a, b, s),
            `${m}×${n}×${k} tA=${transA} tB=${transB} batch ${batch}`,
          );
        }
      }
    }
  });

  t.test(`${backend}: unary ops`, async (t) => {
    const ops: [UnaryOp, number, (n: number, seed: number) => Float32Array][] = [
      ['neg', 0, (n, s) => awayF32(n, 0.1, 5, s)],
      ['exp', 0, (n, s) => randF32(n, -8, 8, s)],
      ['log', 0, (n, s) => randF32(n, 0.05, 0.8, s)],
      ['sqrt', 0, (n, s) => randF32(n, 0.01, 9, s)],
      ['tanh', 0, (n, s) => awayF32(n, 0.05, 30, s)],
      ['sigmoid', 0, (n, s) => awayF32(n, 0.1, 12, s)],
      ['relu', 0, (n, s) => awayF32(n, 0.1, 5, s)],
      ['step', 0, (n, s) => awayF32(n, 0.1, 5, s)],
      ['pow', 2, (n, s) => awayF32(n, 0.1, 5, s)],
      ['pow', 3, (n, s) => awayF32(n, 0.1, 5, s)],
      ['pow', 1.7, (n, s) => randF32(n, 0.1, 5, s)],
      ['abs', 0, (n, s) => awayF32(n, 0.1, 5, s)],
      ['sign', 0, (n, s) => awayF32(n, 0.1, 5, s)],
      ['gelu', 0, (n, s) => randF32(n, -3, 3, s)],
      ['geluGrad', 0, (n, s) => randF32(n, -3, 3, s)],
    ];
    let seed = 100;
    for (const [op, p, gen] of ops) {
      for (const n of sizes) {
        const x = gen(n, ++seed);
        const want = new Float32Array(n);
        kernelFor('unary', 'cpu')!(op)(x, want, p);
        const got = new Float32Array(n).fill(NaN);
        kernelFor('unary', backend)!(op)(x, got, p);
        assertWithin(
          t,
          got,
          want,
          relTol(want, 1e-5, op.startsWith('gelu') ? 1e-6 : 1e-30),
          `${op}${op === 'pow' ? `(${p})` : ''} n=${n}`,
        );
      }
    }
  });

  t.test(`${backend}: binary ops with broadcasting`, async (t) => {
    const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'greaterEqual', 'equal'];
    // [shape, aStrides, bStrides]
    const cases: [number[], number[], number[]][] = [];
    for (const n of sizes) cases.push([[n], [1], [1]]);
    cases.push([
      [7, 33],
      [33, 1],
      [0, 1],
    ]); // row-vector broadcast (bias)
    cases.push([
      [33, 7],
      [7, 1],
      [1, 0],
    ]); // column broadcast
    cases.push([
      [3, 5, 7],
      [35, 7, 1],
      [7, 0, 1],
    ]); // middle broadcast
    cases.push([
      [2, 3, 5, 7],
      [105, 35, 7, 1],
      [0, 7, 0, 1],
    ]); // rank 4, 4 non-mergeable dims → CPU fallback inside
    let seed = 300;
    for (const op of ops) {
      for (const [shape, as, bs] of cases) {
        const span = (st: number[]) => 1 + st.reduce((acc, s, d) => acc + s * (shape[d] - 1), 0);
        const a = awayF32(span(as), 0.5, 4, ++seed, 'a');
        const b = awayF32(span(bs), 0.5, 4, seed, 'b');
        if (op === 'equal' || op === 'maximum' || op === 'greaterEqual')
          for (let i = 0; i < b.length; i += 3) b[i] = a[i % a.length]; // some ties
        const size = shape.reduce((x, y) => x * y, 1);
        const want = new Float32Array(size);
        kernelFor('binary', 'cpu')!(op)(a, as, b, bs, want, shape);
        const got = new Float32Array(size).fill(NaN);
        kernelFor('binary', backend)!(op)(a, as, b, bs, got, shape);
        assertWithin(
          t,
          got,
          want,
          relTol(want, 1e-6, 0),
          `${op} [${shape}] a${JSON.stringify(as)} b${JSON.stringify(bs)}`,
        );
      }
    }
  });

  t.test(`${backend}: where`, async (t) => {
    let seed = 500;
    for (const n of sizes) {
      const c = randF32(n, 0, 1, ++seed, 'c').map((v) => (v < 0.5 ? 0 : 1));
      const a = awayF32(n, 1, 2, seed, 'a');
      const b = awayF32(7, 1, 2, seed, 'b');
      const shape = [n, 7];
      const want = new Float32Array(n * 7);
      kernelFor('where', 'cpu')!(c, [1, 0], a, [1, 0], b, [0, 1], want, shape);
      const got = new Float32Array(n * 7).fill(NaN);
      kernelFor('where', backend)!(c, [1, 0], a, [1, 0], b, [0, 1], got, shape);
      assertWithin(t, got, want, () => 0, `where [${shape}]`);
    }
  });

  t.test(`${backend}: float64 operands go to the CPU reference (gpu.js is float32 only)`, async (t) => {
    const a = Float64Array.from([1 + 1e-12, 2]);
    const out = new Float64Array(2).fill(NaN);
    kernelFor('unary', backend)!('neg')(a, out, 0);
    t.same(Array.from(out), [-(1 + 1e-12), -2]);
  });
}
