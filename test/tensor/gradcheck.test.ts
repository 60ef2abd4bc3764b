/**
 * Gradient checks: every primitive and composite op's reverse-mode gradient against fourth-order
 * central differences in float64, on random shapes and values (fast-check), including broadcasting.
 * Each op output is reduced to a scalar with fixed random weights, sum(out · w), so every output
 * element's derivative is checked. Tolerance: |analytic − numeric| ≤ 1e-6 · max(1, |analytic|, |numeric|).
 */
import fc from 'fast-check';
import t from 'tap';
import {
  type Tensor,
  abs,
  add,
  broadcastTo,
  concat,
  crossEntropy,
  div,
  exp,
  gather,
  gelu,
  gradients,
  layerNorm,
  log,
  logSoftmax,
  logsumexp,
  matmul,
  max,
  maximum,
  mean,
  mse,
  mul,
  neg,
  pad,
  permute,
  pow,
  relu,
  reshape,
  scatterAdd,
  sigmoid,
  slice,
  softmax,
  sqrt,
  sub,
  sum,
  sumTo,
  tanh,
  transpose,
  where,
} from '../../src/tensor/index.js';
import { awayFromZero, count, distinct, ints, normals, uniforms } from '../helpers/random.js';
import { WorstErrors, checkProperty, f64, gradcheck } from '../helpers/finite-diff.js';

const TOL = 1e-6;
const log_ = new WorstErrors();

// ---------------------------------------------------------------- arbitraries

const seedArb = fc.integer({ min: 0, max: 0x7fffffff });
const shapeArb = (minRank: number, maxRank: number, maxDim = 4, minDim = 1) =>
  fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });

/**
 * An output shape and `k` operand shapes that broadcast to it: each operand drops some leading axes
 * and sets some of the rest to 1 (e.g. [3, 1, 4] and [2, 4] → [3, 2, 4]).
 */
function broadcastArb(k: number, maxRank = 4) {
  return fc
    .record({
      out: shapeArb(0, maxRank, 4),
      ops: fc.array(
        fc.record({
          drop: fc.nat(maxRank),
          ones: fc.array(fc.boolean(), { minLength: maxRank, maxLength: maxRank }),
        }),
        { minLength: k, maxLength: k },
      ),
      seed: seedArb,
    })
    .map(({ out, ops, seed }) => ({
      out,
      shapes: ops.map(({ drop, ones }) => {
        const d = Math.min(drop, out.length);
        return out.slice(d).map((n, i) => (ones[i] ? 1 : n));
      }),
      seed,
    }));
}

/** A random non-empty subset of axes, given as possibly negative indices; undefined = all. */
function axesFor(rank: number, pick: readonly boolean[], negative: readonly boolean[]): number[] {
  const axes: number[] = [];
  for (let i = 0; i < rank; i++) if (pick[i]) axes.push(negative[i] ? i - rank : i);
  return axes;
}

/** The worst gradient error of `f` at `inputs`; the label only documents the call site. */
const check = (_label: string, f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], seed: number): number =>
  gradcheck(f, inputs, seed).error;

// ---------------------------------------------------------------- elementwise binary, with broadcasting

t.test('binary ops with broadcasting', async (t) => {
  const arb = broadcastArb(2);
  checkProperty(
    t,
    log_,
    'add',
    arb,
    ({ shapes: [sa, sb], seed }) => {
      return check(
        'add',
        add,
        [f64(normals(count(sa), seed, 'a'), sa), f64(normals(count(sb), seed, 'b'), sb)],
        seed,
      );
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'sub',
    arb,
    ({ shapes: [sa, sb], seed }) => {
      return check(
        'sub',
        sub,
        [f64(normals(count(sa), seed, 'a'), sa), f64(normals(count(sb), seed, 'b'), sb)],
        seed,
      );
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'mul',
    arb,
    ({ shapes: [sa, sb], seed }) => {
      return check(
        'mul',
        mul,
        [f64(normals(count(sa), seed, 'a'), sa), f64(normals(count(sb), seed, 'b'), sb)],
        seed,
      );
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'div',
    arb,
    ({ shapes: [sa, sb], seed }) => {
      const a = f64(normals(count(sa), seed, 'a'), sa);
      const b = f64(awayFromZero(count(sb), 0.5, 2, seed, 'b'), sb);
      return check('div', div, [a, b], seed);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'maximum',
    arb,
    ({ shapes: [sa, sb], seed }) => {
      // a on the lattice 0.1·k + [0, 0.02), b on 0.1·k + 0.05 + [0, 0.02): |a − b| ≥ 0.03 always, no ties.
      const lattice = (n: number, off: number, p: string) => {
        const k = ints(n, 41, seed, p, 'k');
        const j = uniforms(n, 0, 0.02, seed, p, 'j');
        return Array.from(k, (v, i) => 0.1 * (v - 20) + off + j[i]);
      };
      return check(
        'maximum',
        maximum,
        [f64(lattice(count(sa), 0, 'a'), sa), f64(lattice(count(sb), 0.05, 'b'), sb)],
        seed,
      );
    },
    TOL,
  );
});

t.test('explicit broadcast shapes, rank-0 tensors and number operands', async (t) => {
  const cases: [number[], number[]][] = [
    [
      [3, 1, 4],
      [2, 4],
    ],
    [
      [2, 4],
      [3, 1, 4],
    ],
    [[], [2, 3]],
    [[2, 3], []],
    [[], []],
    [
      [4, 1],
      [1, 5],
    ],
    [[1], [3, 2, 1]],
  ];
  let worst = 0;
  for (const [sa, sb] of cases) {
    for (const [name, op] of [
      ['add', add],
      ['sub', sub],
      ['mul', mul],
      ['div', div],
    ] as const) {
      const a = f64(normals(count(sa), 7, name, 'a'), sa);
      const b = f64(awayFromZero(count(sb), 0.5, 2, 7, name, 'b'), sb);
      const e = check(name, op, [a, b], 11);
      worst = Math.max(worst, e);
      t.ok(e <= TOL, `${name} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}: ${e.toExponential(2)}`);
    }
  }
  // Numbers adopt the tensor's dtype and are constants.
  const x = f64(awayFromZero(12, 0.5, 2, 3, 'x'), [3, 4]);
  const numberCases: [string, (x: Tensor) => Tensor][] = [
    ['add(x, 2.5)', (x) => add(x, 2.5)],
    ['sub(1, x)', (x) => sub(1, x)],
    ['mul(-3, x)', (x) => mul(-3, x)],
    ['div(1.5, x)', (x) => div(1.5, x)],
    ['div(x, 4)', (x) => div(x, 4)],
    ['maximum(x, 0.01)', (x) => maximum(x, 0.01)],
  ];
  for (const [name, f] of numberCases) {
    const e = check(name, f, [x], 5);
    worst = Math.max(worst, e);
    t.ok(e <= TOL, `${name}: ${e.toExponential(2)}`);
  }
  log_.record('explicit broadcasts', worst);
});

// ---------------------------------------------------------------- elementwise unary

t.test('unary ops', async (t) => {
  const arb = fc.record({ shape: shapeArb(0, 4, 4), seed: seedArb });
  const unary = (
    name: string,
    f: (x: Tensor) => Tensor,
    values: (n: number, seed: number) => ArrayLike<number>,
  ): void =>
    checkProperty(
      t,
      log_,
      name,
      arb,
      ({ shape, seed }) => check(name, f, [f64(values(count(shape), seed), shape)], seed),
      TOL,
    );
  unary('neg', neg, (n, s) => normals(n, s));
  unary('exp', exp, (n, s) => normals(n, s));
  unary('log', log, (n, s) => uniforms(n, 0.5, 3, s));
  unary('sqrt', sqrt, (n, s) => uniforms(n, 0.5, 3, s));
  unary('tanh', tanh, (n, s) => normals(n, s).map((v) => 2 * v));
  unary('sigmoid', sigmoid, (n, s) => normals(n, s).map((v) => 3 * v));
  unary('relu (|x| ≥ 0.05)', relu, (n, s) => awayFromZero(n, 0.05, 2, s));
  unary('abs (|x| ≥ 0.05)', abs, (n, s) => awayFromZero(n, 0.05, 2, s));
  for (const p of [-1.5, -1, 0, 0.5, 1, 2.7])
    unary(
      `pow(x, ${p}), x > 0`,
      (x) => pow(x, p),
      (n, s) => uniforms(n, 0.5, 2, s),
    );
  for (const p of [2, 3])
    unary(
      `pow(x, ${p}), any sign`,
      (x) => pow(x, p),
      (n, s) => normals(n, s),
    );
});

t.test('where with a broadcast mask and broadcast branches', async (t) => {
  checkProperty(
    t,
    log_,
    'where',
    broadcastArb(3),
    ({ shapes: [sc, sa, sb], seed }) => {
      const cond = f64(ints(count(sc), 2, seed, 'c'), sc);
      const a = f64(normals(count(sa), seed, 'a'), sa);
      const b = f64(normals(count(sb), seed, 'b'), sb);
      return check('where', (a, b) => where(cond, a, b), [a, b], seed);
    },
    TOL,
  );
  const x = f64(normals(6, 1, 'x'), [2, 3]);
  const cond = f64([1, 0, 1, 0, 0, 1], [2, 3]);
  t.ok(check('where(c, x, 0)', (x) => where(cond, x, 0), [x], 1) <= TOL, 'where with a number branch');
  t.ok(check('where(c, 2, x)', (x) => where(cond, 2, x), [x], 1) <= TOL, 'where with a number branch first');
});

t.test('broadcastTo and sumTo', async (t) => {
  const arb = broadcastArb(1);
  checkProperty(
    t,
    log_,
    'broadcastTo',
    arb,
    ({ out, shapes: [s], seed }) => {
      return check('broadcastTo', (x) => broadcastTo(x, out), [f64(normals(count(s), seed), s)], seed);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'sumTo',
    arb,
    ({ out, shapes: [s], seed }) => {
      return check('sumTo', (g) => sumTo(g, s), [f64(normals(count(out), seed), out)], seed);
    },
    TOL,
  );
});

// ---------------------------------------------------------------- matmul

t.test('matmul: 2-D and batched with broadcast batch dims, all transpose flags', async (t) => {
  const arb = fc.record({
    batch: shapeArb(0, 3, 3),
    aOnes: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    bOnes: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    aDrop: fc.nat(3),
    bDrop: fc.nat(3),
    m: fc.integer({ min: 1, max: 5 }),
    n: fc.integer({ min: 1, max: 5 }),
    k: fc.integer({ min: 1, max: 5 }),
    seed: seedArb,
  });
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      const name = `matmul transA=${transA} transB=${transB}`;
      checkProperty(
        t,
        log_,
        name,
        arb,
        ({ batch, aOnes, bOnes, aDrop, bDrop, m, n, k, seed }) => {
          const ab = batch.slice(Math.min(aDrop, batch.length)).map((d, i) => (aOnes[i] ? 1 : d));
          const bb = batch.slice(Math.min(bDrop, batch.length)).map((d, i) => (bOnes[i] ? 1 : d));
          const sa = [...ab, ...(transA ? [k, m] : [m, k])];
          const sb = [...bb, ...(transB ? [n, k] : [k, n])];
          const a = f64(normals(count(sa), seed, 'a'), sa);
          const b = f64(normals(count(sb), seed, 'b'), sb);
          return check(name, (a, b) => matmul(a, b, { transA, transB }), [a, b], seed);
        },
        TOL,
        15,
      );
    }
  }
});

// ---------------------------------------------------------------- layout

t.test('permute, transpose and reshape', async (t) => {
  const arb = fc
    .record({
      shape: shapeArb(1, 4, 4),
      keys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 4, maxLength: 4 }),
      seed: seedArb,
    })
    .map(({ shape, keys, seed }) => ({
      shape,
      perm: shape.map((_, i) => i).sort((i, j) => keys[i] - keys[j] || i - j),
      seed,
    }));
  checkProperty(
    t,
    log_,
    'permute',
    arb,
    ({ shape, perm, seed }) => {
      return check('permute', (x) => permute(x, perm), [f64(normals(count(shape), seed), shape)], seed);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'transpose',
    arb,
    ({ shape, perm, seed }) => {
      return check(
        'transpose',
        (x) => transpose(x, perm[0], -1),
        [f64(normals(count(shape), seed), shape)],
        seed,
      );
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'reshape',
    arb,
    ({ shape, perm, seed }) => {
      // A different factorisation of the same size, with one -1 inferred: the permuted shape, reversed.
      const target = perm.map((p) => shape[p]).reverse();
      target[0] = -1;
      return check(
        'reshape',
        (x) => mul(reshape(x, target), 1),
        [f64(normals(count(shape), seed), shape)],
        seed,
      );
    },
    TOL,
  );
});

/** A box within `shape`: sizes in [1, d], starts in [0, d − size]. */
const boxArb = fc
  .record({
    shape: shapeArb(1, 4, 5),
    u: fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
      minLength: 8,
      maxLength: 8,
    }),
    seed: seedArb,
  })
  .map(({ shape, u, seed }) => {
    const sizes = shape.map((d, i) => 1 + Math.floor(u[i] * d));
    const starts = shape.map((d, i) => Math.floor(u[4 + i] * (d - sizes[i] + 1)));
    return { shape, sizes, starts, seed };
  });

t.test('slice: contiguous (zero copy) and non-contiguous (copied)', async (t) => {
  let contiguousSeen = 0;
  let copiedSeen = 0;
  checkProperty(
    t,
    log_,
    'slice (random boxes)',
    boxArb,
    ({ shape, sizes, starts, seed }) => {
      const x = f64(normals(count(shape), seed), shape);
      const y = slice(x, starts, sizes);
      if (y.data.buffer === x.data.buffer) contiguousSeen++;
      else copiedSeen++;
      return check('slice', (x) => slice(x, starts, sizes), [x], seed);
    },
    TOL,
    40,
  );
  // Contiguous by construction: leading unit dims, one partial dim, full trailing dims.
  const contiguousArb = fc
    .record({
      shape: shapeArb(1, 4, 5),
      at: fc.nat(3),
      u: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      seed: seedArb,
    })
    .map(({ shape, at, u, seed }) => {
      const p = Math.min(at, shape.length - 1);
      const sizes = shape.map((d, i) => (i < p ? 1 : i === p ? 1 + Math.floor(u * d) : d));
      const starts = shape.map((d, i) => (i < p ? Math.floor(u * d) : i === p ? d - sizes[i] : 0));
      return { shape, sizes, starts, seed };
    });
  checkProperty(
    t,
    log_,
    'slice (contiguous)',
    contiguousArb,
    ({ shape, sizes, starts, seed }) => {
      const x = f64(normals(count(shape), seed), shape);
      const y = slice(x, starts, sizes);
      if (y.data.buffer !== x.data.buffer)
        throw new Error(`contiguous slice ${JSON.stringify({ shape, starts, sizes })} copied`);
      contiguousSeen++;
      return check('slice', (x) => slice(x, starts, sizes), [x], seed);
    },
    TOL,
  );
  // Non-contiguous by construction: a partial last axis below an axis of size ≥ 2.
  const stridedArb = fc
    .record({
      rows: fc.integer({ min: 2, max: 5 }),
      cols: fc.integer({ min: 2, max: 6 }),
      lead: shapeArb(0, 2, 3),
      seed: seedArb,
    })
    .map(({ rows, cols, lead, seed }) => ({
      shape: [...lead, rows, cols],
      sizes: [...lead, rows, cols - 1],
      starts: [...lead.map(() => 0), 0, 1],
      seed,
    }));
  checkProperty(
    t,
    log_,
    'slice (non-contiguous)',
    stridedArb,
    ({ shape, sizes, starts, seed }) => {
      const x = f64(normals(count(shape), seed), shape);
      const y = slice(x, starts, sizes);
      if (y.data.buffer === x.data.buffer) throw new Error('strided slice shares the buffer');
      // The copied values must be the box, checked against plain indexing.
      const cols = shape[shape.length - 1];
      for (let i = 0; i < y.size; i++) {
        const r = Math.floor(i / (cols - 1));
        const c = (i % (cols - 1)) + 1;
        if (y.data[i] !== x.data[r * cols + c]) throw new Error(`slice value ${i} wrong`);
      }
      copiedSeen++;
      return check('slice', (x) => slice(x, starts, sizes), [x], seed);
    },
    TOL,
  );
  t.ok(
    contiguousSeen > 0 && copiedSeen > 0,
    `both slice paths exercised (${contiguousSeen} zero copy, ${copiedSeen} copied)`,
  );
});

t.test('pad', async (t) => {
  checkProperty(
    t,
    log_,
    'pad',
    boxArb,
    ({ shape, sizes, starts, seed }) => {
      return check('pad', (x) => pad(x, shape, starts), [f64(normals(count(sizes), seed), sizes)], seed);
    },
    TOL,
  );
});

t.test('concat', async (t) => {
  const arb = fc.record({
    shape: shapeArb(1, 4, 4),
    axis: fc.nat(3),
    negative: fc.boolean(),
    lens: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
    seed: seedArb,
  });
  checkProperty(
    t,
    log_,
    'concat',
    arb,
    ({ shape, axis, negative, lens, seed }) => {
      const ax = axis % shape.length;
      const parts = lens.map((len, i) => {
        const s = shape.map((d, k) => (k === ax ? len : d));
        return f64(normals(count(s), seed, i), s);
      });
      return check('concat', (...xs) => concat(xs, negative ? ax - shape.length : ax), parts, seed);
    },
    TOL,
  );
});

// ---------------------------------------------------------------- reductions

t.test('sum, mean and max over axis subsets, with and without keepdims', async (t) => {
  const arb = fc.record({
    shape: shapeArb(1, 4, 4),
    pick: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    negative: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    all: fc.boolean(),
    keepdims: fc.boolean(),
    seed: seedArb,
  });
  const axesOf = (shape: number[], pick: boolean[], negative: boolean[], all: boolean) =>
    all ? undefined : axesFor(shape.length, pick, negative);
  checkProperty(
    t,
    log_,
    'sum',
    arb,
    ({ shape, pick, negative, all, keepdims, seed }) => {
      const axes = axesOf(shape, pick, negative, all);
      return check('sum', (x) => sum(x, axes, keepdims), [f64(normals(count(shape), seed), shape)], seed);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'mean',
    arb,
    ({ shape, pick, negative, all, keepdims, seed }) => {
      const axes = axesOf(shape, pick, negative, all);
      return check('mean', (x) => mean(x, axes, keepdims), [f64(normals(count(shape), seed), shape)], seed);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'max (distinct values)',
    arb,
    ({ shape, pick, negative, all, keepdims, seed }) => {
      const axes = axesOf(shape, pick, negative, all);
      // All values pairwise ≥ 0.05 apart: the arg-max never changes within the difference stencil.
      return check(
        'max',
        (x) => max(x, axes, keepdims),
        [f64(distinct(count(shape), 0.05, seed), shape)],
        seed,
      );
    },
    TOL,
  );
  // A single integer axis and rank-0 input.
  const x = f64(distinct(24, 0.1, 3), [2, 3, 4]);
  for (const ax of [0, 1, 2, -1]) {
    t.ok(check('sum', (x) => sum(x, ax), [x], 1) <= TOL, `sum axis ${ax}`);
    t.ok(check('max', (x) => max(x, ax, true), [x], 1) <= TOL, `max axis ${ax}`);
  }
  const s = f64([1.5], []);
  t.ok(check('sum', (x) => mul(sum(x), sum(x)), [s], 1) <= TOL, 'sum of a rank-0 tensor');
});

// ---------------------------------------------------------------- gather / scatterAdd

t.test('gather and scatterAdd (repeated indices accumulate)', async (t) => {
  const arb = fc.record({
    rows: fc.integer({ min: 1, max: 6 }),
    rest: shapeArb(0, 2, 3),
    indexShape: shapeArb(1, 2, 4),
    seed: seedArb,
  });
  checkProperty(
    t,
    log_,
    'gather',
    arb,
    ({ rows, rest, indexShape, seed }) => {
      const idx = ints(count(indexShape), rows, seed, 'idx');
      const table = f64(normals(rows * count(rest), seed), [rows, ...rest]);
      return check('gather', (x) => gather(x, idx, indexShape), [table], seed);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'scatterAdd',
    arb,
    ({ rows, rest, indexShape, seed }) => {
      const n = count(indexShape);
      const idx = ints(n, rows, seed, 'idx');
      const src = f64(normals(n * count(rest), seed), [n, ...rest]);
      return check('scatterAdd', (x) => scatterAdd(x, idx, rows), [src], seed);
    },
    TOL,
  );
});

// ---------------------------------------------------------------- composites

t.test('softmax, logSoftmax, logsumexp over any axis', async (t) => {
  const arb = fc.record({
    shape: shapeArb(1, 3, 5),
    axis: fc.nat(5),
    negative: fc.boolean(),
    keepdims: fc.boolean(),
    seed: seedArb,
  });
  const axisOf = (shape: number[], axis: number, negative: boolean) =>
    (axis % shape.length) - (negative ? shape.length : 0);
  const values = (shape: number[], seed: number) =>
    f64(
      normals(count(shape), seed).map((v) => 2 * v),
      shape,
    );
  checkProperty(
    t,
    log_,
    'softmax',
    arb,
    ({ shape, axis, negative, seed }) => {
      const ax = axisOf(shape, axis, negative);
      return check('softmax', (x) => softmax(x, ax), [values(shape, seed)], seed);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'logSoftmax',
    arb,
    ({ shape, axis, negative, seed }) => {
      const ax = axisOf(shape, axis, negative);
      return check('logSoftmax', (x) => logSoftmax(x, ax), [values(shape, seed)], seed);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'logsumexp',
    arb,
    ({ shape, axis, negative, keepdims, seed }) => {
      const ax = axisOf(shape, axis, negative);
      return check('logsumexp', (x) => logsumexp(x, ax, keepdims), [values(shape, seed)], seed);
    },
    TOL,
  );
  // Large logits: the stable form must still give exact gradients (a naive exp would overflow).
  const big = f64([800, 801, 799.5, -3, 1000, 1002], [2, 3]);
  t.ok(check('logsumexp', (x) => logsumexp(x, -1), [big], 2) <= TOL, 'logsumexp of large logits');
  t.ok(check('softmax', (x) => softmax(x, -1), [big], 2) <= TOL, 'softmax of large logits');
});

t.test('gelu, layerNorm, crossEntropy, mse', async (t) => {
  const shapeSeed = fc.record({ shape: shapeArb(0, 3, 4), seed: seedArb });
  checkProperty(
    t,
    log_,
    'gelu',
    shapeSeed,
    ({ shape, seed }) => {
      return check(
        'gelu',
        gelu,
        [
          f64(
            normals(count(shape), seed).map((v) => 2 * v),
            shape,
          ),
        ],
        seed,
      );
    },
    TOL,
  );
  const lnArb = fc.record({ lead: shapeArb(0, 2, 3), c: fc.integer({ min: 3, max: 6 }), seed: seedArb });
  checkProperty(
    t,
    log_,
    'layerNorm',
    lnArb,
    ({ lead, c, seed }) => {
      const rows = count(lead);
      // Each row a shuffled ramp plus noise: variance ≥ ~0.4, far from the eps-dominated regime.
      const xs = new Float64Array(rows * c);
      for (let r = 0; r < rows; r++) {
        const ramp = distinct(c, 0.8, seed, 'row', r);
        const noise = normals(c, seed, 'noise', r);
        for (let j = 0; j < c; j++) xs[r * c + j] = ramp[j] + 0.2 * noise[j];
      }
      const x = f64(xs, [...lead, c]);
      const gain = f64(normals(c, seed, 'gain'), [c]);
      const bias = f64(normals(c, seed, 'bias'), [c]);
      return check('layerNorm', (x, g, b) => layerNorm(x, g, b), [x, gain, bias], seed);
    },
    TOL,
  );
  const ceArb = fc.record({ lead: shapeArb(0, 2, 4), c: fc.integer({ min: 1, max: 6 }), seed: seedArb });
  checkProperty(
    t,
    log_,
    'crossEntropy',
    ceArb,
    ({ lead, c, seed }) => {
      const shape = [...lead, c];
      const targets = ints(count(lead), c, seed, 'targets');
      const logits = f64(
        normals(count(shape), seed).map((v) => 2 * v),
        shape,
      );
      return check('crossEntropy', (z) => crossEntropy(z, targets), [logits], seed);
    },
    TOL,
  );
  checkProperty(
    t,
    log_,
    'mse',
    shapeSeed,
    ({ shape, seed }) => {
      const n = count(shape);
      const pred = f64(normals(n, seed, 'p'), shape);
      const target = f64(normals(n, seed, 't'), [n]); // same size, different shape: reshaped
      return check('mse', mse, [pred, target], seed);
    },
    TOL,
  );
});

// ---------------------------------------------------------------- conventions at kinks and ties

t.test('documented subgradients at ties: max shares equally, maximum picks the first argument', async (t) => {
  const x = f64([1, 3, 3, 2, 5, 5, 5, 0], [2, 4]);
  const all = x.requireGrad();
  const [gAll] = gradients(max(all), [all]);
  t.strictSame(
    Array.from(gAll.data),
    [0, 0, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0],
    'global max: three tied maxima get a third each',
  );
  const leaf = x.requireGrad();
  const [gRows] = gradients(sum(mul(max(leaf, 1), f64([1, 2], [2]))), [leaf]);
  t.strictSame(
    Array.from(gRows.data),
    [0, 0.5, 0.5, 0, 2 / 3, 2 / 3, 2 / 3, 0],
    'row max ties share the gradient equally',
  );
  const a = f64([1, 2, 3], [3]).requireGrad();
  const b = f64([1, 0, 3], [3]).requireGrad();
  const [ga, gb] = gradients(sum(maximum(a, b)), [a, b]);
  t.strictSame(
    [Array.from(ga.data), Array.from(gb.data)],
    [
      [1, 1, 1],
      [0, 0, 0],
    ],
    'maximum at ties: gradient to the first argument',
  );
  const r = f64([-1, 0, 2], [3]).requireGrad();
  const [gr] = gradients(sum(relu(r)), [r]);
  t.strictSame(Array.from(gr.data), [0, 0, 1], 'relu′(0) = 0');
});

// ---------------------------------------------------------------- a check that can fail

t.test('the checker rejects a wrong gradient', async (t) => {
  // x·stopGradient-free identity disguised: the VJP of a tensor built with a wrong closed form.
  const x = f64(uniforms(5, 0.5, 2, 9), [5]);
  const good = gradcheck((x) => mul(x, x), [x], 1).error;
  // Differentiating x² as if it were x·c with c = x.detach() gives x, not 2x: the check must see it.
  const bad = gradcheck((x) => mul(x, x.detach()), [x], 1).error;
  t.ok(good <= TOL, `x² passes (${good.toExponential(2)})`);
  t.ok(bad > 1e-2, `a wrong gradient is caught (${bad.toExponential(2)})`);
});

t.test('report', async (t) => {
  t.comment(`worst mixed relative errors (tolerance ${TOL}):\n${log_.summary()}`);
  t.ok(log_.overall() <= TOL, `overall worst ${log_.overall().toExponential(2)}`);
});
