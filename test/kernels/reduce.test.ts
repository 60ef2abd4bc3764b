/**
 * The CPU sum/max reduction kernels and their collapsed-layout fast paths (row sums with four
 * accumulators, row accumulation into contiguous slots, odometer over the outer runs) against naive
 * float64 loops, on every layout kind: leading axes reduced ([R, K]), trailing ([K, R]), alternating
 * ([R, K, R], [K, R, K]), everything, nothing, size-1 dims anywhere, rank 0 and empty tensors. Row
 * lengths are not multiples of the 4-way unroll. Outputs start as NaN so an unwritten slot fails.
 * The WebAssembly column sums (the 'sum' kernel's wasm backend) must equal the CPU reference exactly.
 */
import t from 'tap';
import { collapseReduce, cpuMax, cpuSum } from '../../src/kernels/cpu/reduce.js';
import { WasmColumnSum } from '../../src/kernels/wasm/column-sum.js';
import { sumSelfCheck } from '../../src/kernels/wasm/exact-checks.js';
import { normals } from '../helpers/random.js';

/** Naive reduction: every multi-index of x, its output slot from the kept-dims strides. */
function naive(x: ArrayLike<number>, shape: number[], axes: number[], which: 'sum' | 'max'): Float64Array {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const outSize = kept.reduce((a, b) => a * b, 1);
  const want = new Float64Array(outSize).fill(which === 'sum' ? 0 : -Infinity);
  const n = shape.reduce((a, b) => a * b, 1);
  for (let f = 0; f < n; f++) {
    let rest = f;
    let o = 0;
    let stride = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const i = rest % shape[d];
      rest = Math.floor(rest / shape[d]);
      if (!axes.includes(d)) o += i * stride;
      stride *= kept[d];
    }
    want[o] = which === 'sum' ? want[o] + x[f] : Math.max(want[o], x[f]);
  }
  return want;
}

function outStrides(shape: number[], axes: number[]): number[] {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = axes.includes(i) ? 0 : acc;
    acc *= kept[i];
  }
  return s;
}

const CASES: [number[], number[]][] = [
  [[], []], // rank 0
  [[7], [0]],
  [[7], []],
  [[2048, 19], [0]], // [R, K]: a bias gradient
  [[19, 67], [1]], // [K, R]: row sums, 67 = 4·16 + 3
  [
    [5, 9, 6],
    [0, 2],
  ], // [R, K, R]: a broadcast sumTo
  [[3, 5, 2, 7], [1]], // [K, R, K]
  [
    [3, 1, 5, 1, 7],
    [1, 2],
  ], // size-1 dims, reduced and kept
  [
    [1, 1, 1],
    [0, 2],
  ],
  [
    [3, 4, 5],
    [0, 1, 2],
  ], // everything
  [[3, 4, 5], []], // nothing
  [
    [2, 3, 5, 7],
    [0, 3],
  ],
  [[6, 1], [0]],
  [[1, 6], [1]],
  [[4, 0, 3], [1]], // empty input, non-empty output
  [[0, 3], [1]], // empty output
];

t.test('sum and max against naive float64 loops on every layout kind', async (t) => {
  for (const [shape, axes] of CASES) {
    const n = shape.reduce((a, b) => a * b, 1);
    const raw = normals(n, 3, 'reduce', shape.join('x'));
    for (const Ctor of [Float32Array, Float64Array]) {
      const x = Ctor.from(raw);
      const os = outStrides(shape, axes);
      for (const which of ['sum', 'max'] as const) {
        const want = naive(x, shape, axes, which);
        const out = new Ctor(want.length).fill(NaN);
        (which === 'sum' ? cpuSum : cpuMax)(x, shape, out, os);
        let worst = 0;
        for (let i = 0; i < want.length; i++) {
          // Sums accumulate in float64 and round once: within half an ulp of the dtype.
          const scale = Math.max(1, Math.abs(want[i]));
          const e = Object.is(out[i], want[i]) ? 0 : Math.abs(out[i] - want[i]) / scale;
          worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
        }
        const tol = which === 'max' ? 0 : Ctor === Float32Array ? 6e-8 : 1e-14;
        t.ok(
          worst <= tol,
          `${which} ${Ctor.name} [${shape}] over [${axes}]: worst error ${worst.toExponential(2)} ≤ ${tol}`,
        );
      }
    }
  }
});

t.test('max skips NaN and keeps −Infinity rows as the sequential loop did', async (t) => {
  const x = Float64Array.from([NaN, 1, -2, NaN, NaN, NaN, NaN, NaN, -Infinity, 3, 2, 1]);
  const out = new Float64Array(3).fill(7);
  cpuMax(x, [3, 4], out, [1, 0]);
  t.same([...out], [1, -Infinity, 3]);
});

t.test('the layout collapses to alternating reduced and kept runs', async (t) => {
  t.same(collapseReduce([2048, 192], [0, 1]), { shape: [2048, 192], outStrides: [0, 1] });
  t.same(collapseReduce([32, 4, 64, 64], [256, 64, 1, 0]), { shape: [8192, 64], outStrides: [1, 0] });
  t.same(collapseReduce([32, 1, 64, 64], [0, 0, 1, 0]), { shape: [32, 64, 64], outStrides: [0, 1, 0] });
  t.same(collapseReduce([1, 1], [0, 1]), { shape: [], outStrides: [] });
  t.same(collapseReduce([3, 4, 5], [0, 0, 0]), { shape: [60], outStrides: [0] });
});

t.test(
  'wasm column sums equal the CPU reference bit for bit, and naive float64 sums rounded once',
  async (t) => {
    const w = new WasmColumnSum();
    // Even K in the wasm loop; odd K, other layouts and float64 fall back to the CPU reference.
    const cases: [number[], number[]][] = [
      [[2048, 192], [0]],
      [[3, 2], [0]],
      [[1, 4], [0]],
      [[17, 9], [0]],
      [
        [4, 5, 6],
        [0, 1],
      ],
      [[6, 8], [1]],
      [
        [3, 4, 5],
        [0, 2],
      ],
    ];
    for (const [shape, axes] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      // Large and small magnitudes mixed, so float32 accumulation would visibly differ from float64.
      const raw = normals(n, 11, 'colsum', shape.join('x')).map((v, i) => (i % 7 === 0 ? v * 1e4 : v));
      for (const Ctor of [Float32Array, Float64Array]) {
        const x = Ctor.from(raw);
        const want = naive(x, shape, axes, 'sum');
        const magnitude = naive(
          x.map((v) => Math.abs(v)),
          shape,
          axes,
          'sum',
        );
        const os = outStrides(shape, axes);
        const got = new Ctor(want.length).fill(NaN);
        w.kernel(x, shape, got, os);
        const ref = new Ctor(want.length).fill(NaN);
        cpuSum(x, shape, ref, os);
        const label = `${Ctor.name} [${shape}] over [${axes}]`;
        t.ok(
          [...got].every((v, i) => Object.is(v, ref[i])),
          `${label}: equals the CPU reference bit for bit`,
        );
        // Rounded once to the array's type; float64 sums in another order differ by a few ulps of Σ|x|.
        const ulp = Ctor === Float32Array ? 6e-8 : 0;
        t.ok(
          [...got].every((v, i) => Math.abs(v - want[i]) <= ulp * Math.abs(want[i]) + 1e-14 * magnitude[i]),
          `${label}: equals the naive float64 sum`,
        );
      }
    }
  },
);

t.test('the column-sum self-check rejects a kernel that accumulates in float32', async (t) => {
  t.ok(sumSelfCheck(new WasmColumnSum().kernel), 'the wasm kernel passes');
  const float32Accumulation = (
    x: Float32Array | Float64Array,
    shape: readonly number[],
    out: Float32Array | Float64Array,
  ) => {
    const [rows, cols] = shape;
    const acc = new Float32Array(cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) acc[j] += x[r * cols + j];
    out.set(acc);
  };
  t.notOk(sumSelfCheck(float32Accumulation), 'float32 accumulation fails');
});
