/**
 * The WebGPU device kernels (gpu.js kernels and the tiled WGSL matmul) against the CPU references,
 * on fresh random inputs, at sizes that are not multiples of any workgroup or tile (1, 7, 33, 130,
 * 257, and around the 64-wide 1-D workgroup). Runs on whatever adapter answers: a real GPU, or Dawn
 * over Mesa llvmpipe on CPU-only machines; skips, saying why, when none does.
 *
 * Every storage buffer on the device starts NaN (GpuDevice `poisonNewBuffers`), kernel outputs
 * included, so an element a kernel does not write fails its comparison. The WGSL matmul also writes
 * into a caller's NaN-filled array at an offset, checking that nothing outside C is touched.
 *
 * Tolerances: elementwise relative 1e-5 (GPU exp/log/tanh are a few ulp); matmul per element
 * |err| ≤ 2·√k·eps32·Σ_p|a_ip·b_pj| + 1e-30 (float32 accumulation over k terms, against the
 * reference's float64 sums); reductions likewise with √cols.
 */
import t from 'tap';
import '../../src/kernels/cpu/register.js';
import { kernelFor, type BinaryOp, type MatmulSpec, type UnaryOp } from '../../src/kernels/registry.js';
import type { MatmulImpl } from '../../src/gpu/device/device.js';
import { EPS32, assertWithin, awayF32, closeAtEnd, openDevice, randF32, relTol } from './fixtures/helpers.js';

const opened = await openDevice();
if ('skip' in opened) {
  t.test('WebGPU device kernels', { skip: opened.skip }, () => {});
} else {
  const dev = opened.device;
  closeAtEnd(t, dev);
  t.comment(`adapter: ${dev.adapter.device || dev.adapter.description} (${dev.adapter.source})`);
  const SIZES = [1, 7, 33, 63, 65, 130, 257];

  const matmulRef = (a: Float32Array, b: Float32Array, s: MatmulSpec) => {
    const want = new Float32Array(s.batch * s.m * s.n);
    kernelFor('matmul', 'cpu')!(a, b, want, s);
    const absOut = new Float32Array(s.batch * s.m * s.n);
    kernelFor('matmul', 'cpu')!(a.map(Math.abs), b.map(Math.abs), absOut, s);
    const c = 2 * Math.sqrt(s.k) * EPS32;
    return { want, tol: (i: number) => c * absOut[i] + 1e-30 };
  };
  const spec = (
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    batch = 1,
  ): MatmulSpec => ({
    batch,
    m,
    n,
    k,
    transA,
    transB,
    aOffsets: Int32Array.from({ length: batch }, (_, i) => i * m * k),
    bOffsets: Int32Array.from({ length: batch }, (_, i) => i * k * n),
  });

  const IMPLS: MatmulImpl[] = ['gpujs', 'gpujs-tiled', 'wgsl-small', 'wgsl-64', 'wgsl-128'];
  const SHAPES: [number, number, number][] = [
    [1, 1, 1],
    [7, 33, 5],
    [33, 7, 130],
    [130, 257, 33],
    [7, 4, 33], // n % 4 == 0: the register-tiled gpu.js form
    [33, 132, 65],
    [3, 8, 1100], // k past gpu.js's default 1000-iteration loop cap
  ];

  t.test('matmul: every impl × transpose form × odd size', async (t) => {
    let seed = 0;
    for (const impl of IMPLS) {
      for (const [m, n, k] of SHAPES) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const s = spec(m, n, k, transA, transB);
            const a = randF32(m * k, -1, 1, ++seed, 'a');
            const b = randF32(k * n, -1, 1, seed, 'b');
            const { want, tol } = matmulRef(a, b, s);
            const A = dev.upload(a);
            const B = dev.upload(b);
            const C = await dev.matmul(A, B, { m, n, k, transA, transB, impl });
            const got = await dev.download(C);
            assertWithin(t, got, want, tol, `${impl} ${m}×${n}×${k} tA=${transA} tB=${transB}`);
            A.free();
            B.free();
            C.free();
          }
        }
      }
    }
  });

  t.test('wgsl matmul: offsets, batch, and writes only inside C of a given output', async (t) => {
    const [m, n, k, batch] = [33, 17, 9, 3];
    for (const impl of ['wgsl-small', 'wgsl-64'] as const) {
      for (const [transA, transB] of [
        [false, true],
        [true, false],
      ]) {
        const aOff = 5;
        const bOff = 2;
        const a = randF32(aOff + batch * m * k, -1, 1, 77, impl, +transA, 'a');
        const b = randF32(bOff + batch * k * n, -1, 1, 77, impl, +transB, 'b');
        const s: MatmulSpec = {
          ...spec(m, n, k, transA, transB, batch),
          aOffsets: Int32Array.from({ length: batch }, (_, i) => aOff + i * m * k),
          bOffsets: Int32Array.from({ length: batch }, (_, i) => bOff + i * k * n),
        };
        const { want, tol } = matmulRef(a, b, s);
        const outOffset = 3;
        const out = dev.fill(outOffset + batch * m * n + 4, NaN);
        const A = dev.upload(a);
        const B = dev.upload(b);
        await dev.matmul(A, B, {
          m,
          n,
          k,
          transA,
          transB,
          batch,
          aOffset: aOff,
          bOffset: bOff,
          impl,
          out,
          outOffset,
        });
        const got = await dev.download(out);
        assertWithin(
          t,
          got.subarray(outOffset, outOffset + batch * m * n),
          want,
          tol,
          `${impl} batch ${batch} tA=${transA} tB=${transB}`,
        );
        t.ok(
          [0, 1, 2, got.length - 4, got.length - 3, got.length - 2, got.length - 1].every((i) =>
            Number.isNaN(got[i]),
          ),
          'elements outside C keep their poison',
        );
        for (const x of [A, B, out]) x.free();
      }
    }
  });

  t.test('unary ops', async (t) => {
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
      for (const n of SIZES) {
        const x = gen(n, ++seed);
        const want = new Float32Array(n);
        kernelFor('unary', 'cpu')!(op)(x, want, p);
        const X = dev.upload(x);
        const Y = await dev.unary(op, X, p);
        assertWithin(
          t,
          await dev.download(Y),
          want,
          relTol(want, 1e-5, op.startsWith('gelu') ? 1e-6 : 1e-30),
          `${op}${op === 'pow' ? `(${p})` : ''} n=${n}`,
        );
        X.free();
        Y.free();
      }
    }
  });

  t.test('binary ops with broadcasting, and where', async (t) => {
    const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'greaterEqual', 'equal'];
    const cases: [number[], number[], number[]][] = [];
    for (const n of SIZES) cases.push([[n], [1], [1]]);
    cases.push([
      [7, 33],
      [33, 1],
      [0, 1],
    ]); // bias add
    cases.push([
      [33, 7],
      [7, 1],
      [1, 0],
    ]);
    cases.push([
      [3, 5, 7],
      [35, 7, 1],
      [7, 0, 1],
    ]);
    let seed = 300;
    for (const op of ops) {
      for (const [shape, as, bs] of cases) {
        const span = (st: number[]) => 1 + st.reduce((acc, s, d) => acc + s * (shape[d] - 1), 0);
        const a = awayF32(span(as), 0.5, 4, ++seed, 'a');
        const b = awayF32(span(bs), 0.5, 4, seed, 'b');
        if (op === 'equal' || op === 'maximum' || op === 'greaterEqual')
          for (let i = 0; i < b.length; i += 3) b[i] = a[i % a.length];
        const size = shape.reduce((x, y) => x * y, 1);
        const want = new Float32Array(size);
        kernelFor('binary', 'cpu')!(op)(a, as, b, bs, want, shape);
        const A = dev.upload(a);
        const B = dev.upload(b);
        const C = await dev.binary(op, A, B, shape, as, bs);
        assertWithin(t, await dev.download(C), want, relTol(want, 1e-6, 0), `${op} [${shape}]`);
        for (const x of [A, B, C]) x.free();
      }
    }
    await t.rejects(
      dev.binary('add', dev.fill(210, 1), dev.fill(210, 1), [2, 3, 5, 7], [105, 35, 7, 1], [0, 7, 0, 1]),
      /at most 3 are supported/,
      'four non-mergeable broadcast dims are refused, not mis-indexed',
    );
    for (const n of [1, 33, 130]) {
      const c = randF32(n, 0, 1, ++seed, 'c').map((v) => (v < 0.5 ? 0 : 1));
      const a = awayF32(n, 1, 2, seed, 'a');
      const b = awayF32(7, 1, 2, seed, 'b');
      const want = new Float32Array(n * 7);
      kernelFor('where', 'cpu')!(c, [1, 0], a, [1, 0], b, [0, 1], want, [n, 7]);
      const [C, A, B] = [dev.upload(c), dev.upload(a), dev.upload(b)];
      const W = await dev.where(C, A, B, [n, 7], { cond: [1, 0], a: [1, 0], b: [0, 1] });
      assertWithin(t, await dev.download(W), want, () => 0, `where [${n}, 7]`);
      for (const x of [A, B, C, W]) x.free();
    }
  });

  t.test('row reductions, column sums', async (t) => {
    let seed = 600;
    for (const [rows, cols] of [
      [1, 1],
      [7, 33],
      [130, 7],
      [3, 1100],
    ]) {
      const x = randF32(rows * cols, -2, 2, ++seed);
      const X = dev.upload(x);
      for (const op of ['sum', 'max'] as const) {
        const want = new Float32Array(rows);
        const ref = op === 'sum' ? kernelFor('sum', 'cpu')! : kernelFor('max', 'cpu')!;
        ref(x, [rows, cols], want, [1, 0]);
        const absSum = new Float32Array(rows);
        kernelFor('sum', 'cpu')!(x.map(Math.abs), [rows, cols], absSum, [1, 0]);
        const R = await dev.reduceRows(op, X, rows, cols);
        const tol = op === 'sum' ? (i: number) => 2 * Math.sqrt(cols) * EPS32 * absSum[i] + 1e-30 : () => 0;
        assertWithin(t, await dev.download(R), want, tol, `${op} rows of [${rows}, ${cols}]`);
        R.free();
      }
      const want = new Float32Array(cols);
      kernelFor('sum', 'cpu')!(x, [rows, cols], want, [0, 1]);
      const absSum = new Float32Array(cols);
      kernelFor('sum', 'cpu')!(x.map(Math.abs), [rows, cols], absSum, [0, 1]);
      const S = await dev.sumCols(X, rows, cols);
      assertWithin(
        t,
        await dev.download(S),
        want,
        (i) => 2 * Math.sqrt(rows) * EPS32 * absSum[i] + 1e-30,
        `sum columns of [${rows}, ${cols}]`,
      );
      S.free();
      X.free();
    }
  });

  t.test('softmax cross-entropy pieces: log-sum-exp, gradient, label sampling', async (t) => {
    let seed = 700;
    for (const [rows, classes] of [
      [1, 2],
      [7, 10],
      [65, 33],
      [130, 5],
    ]) {
      const l = randF32(rows * classes, -6, 6, ++seed, 'l');
      const labels = Float32Array.from({ length: rows }, (_, r) => (r * 7 + 3) % classes);
      const u = randF32(rows, 0, 1, seed, 'u');
      // float64 references
      const lse = new Float64Array(rows);
      const grad = new Float64Array(rows * classes);
      const sampled = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        let mx = -Infinity;
        for (let c = 0; c < classes; c++) mx = Math.max(mx, l[r * classes + c]);
        let s = 0;
        for (let c = 0; c < classes; c++) s += Math.exp(l[r * classes + c] - mx);
        lse[r] = mx + Math.log(s);
        for (let c = 0; c < classes; c++)
          grad[r * classes + c] = (Math.exp(l[r * classes + c] - lse[r]) - (labels[r] === c ? 1 : 0)) / rows;
        let acc = u[r] * s;
        sampled[r] = classes - 1;
        for (let c = 0; c < classes; c++) {
          acc -= Math.exp(l[r * classes + c] - mx);
          if (acc < 0) {
            sampled[r] = c;
            break;
          }
        }
      }
      const [L, Lab, U] = [dev.upload(l), dev.upload(labels), dev.upload(u)];
      const LSE = await dev.logSumExpRows(L, rows, classes);
      assertWithin(
        t,
        await dev.download(LSE),
        lse,
        relTol(lse, 1e-5, 1e-6),
        `log-sum-exp [${rows}, ${classes}]`,
      );
      const G = await dev.softmaxXentGrad(L, LSE, Lab, rows, classes, 1 / rows);
      // softmax probabilities carry exp's relative error; the one-hot subtraction is exact
      assertWithin(t, await dev.download(G), grad, () => 2e-5 / rows, `xent gradient [${rows}, ${classes}]`);
      const S = await dev.sampleLabels(L, U, rows, classes);
      t.same(Array.from(await dev.download(S)), Array.from(sampled), `sampled labels [${rows}, ${classes}]`);
      for (const x of [L, Lab, U, LSE, G, S]) x.free();
    }
  });

  t.test('results stay distinct across calls (immutable pipeline outputs)', async (t) => {
    const X = dev.upload([1, 2, 3]);
    const Y1 = await dev.unary('neg', X);
    const Y2 = await dev.unary('exp', X);
    const Y3 = await dev.unary('neg', Y2);
    t.same(
      Array.from(await dev.download(Y1)),
      [-1, -2, -3],
      'the first result is not overwritten by later calls of the same kernel',
    );
    t.same(
      Array.from(await dev.download(Y3)).map((v) => +v.toFixed(4)),
      [1, 2, 3].map((v) => +(-Math.exp(v)).toFixed(4)),
    );
    for (const x of [X, Y1, Y2, Y3]) x.free();
    await t.rejects(dev.download(X), /freed/, 'a freed array cannot be read');
  });
}
