/**
 * Bad input fails loudly: a shape or dtype mismatch, a wrong rank, a bad axis, an out-of-range index
 * or target, non-finite data, and an op that would produce NaN/±Infinity each throw the right Error
 * class with a message naming the op and the shapes or argument. Never a silent NaN.
 */
import fc from 'fast-check';
import t, { type Test } from 'tap';
import {
  DTypeError,
  NonFiniteError,
  ShapeError,
  type Tensor,
  add,
  broadcastShapes,
  broadcastTo,
  concat,
  crossEntropy,
  div,
  exp,
  full,
  gather,
  gradients,
  hvp,
  layerNorm,
  log,
  logsumexp,
  matmul,
  max,
  maximum,
  mean,
  mse,
  mul,
  permute,
  pad,
  pow,
  reshape,
  scatterAdd,
  setFiniteChecks,
  slice,
  softmax,
  sqrt,
  sub,
  sum,
  tensor,
  transpose,
  valueAndGrad,
  where,
  zeros,
} from '../../src/tensor/index.js';
import { normals } from '../helpers/random.js';

type ErrorClass = new (...args: never[]) => Error;

/** Asserts `fn` throws an instance of `cls` whose message matches every pattern. Returns the error. */
function expectError(
  t: Test,
  label: string,
  fn: () => unknown,
  cls: ErrorClass,
  ...patterns: RegExp[]
): Error | undefined {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof cls)) {
    t.fail(
      `${label}: expected ${cls.name}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`,
    );
    return undefined;
  }
  for (const p of patterns)
    t.match(
      caught.message,
      p,
      `${label}: ${cls.name} message ${JSON.stringify(caught.message)} matches ${p}`,
    );
  return caught;
}

const f32 = (values: number[], shape: number[]) => tensor(values, shape, 'float32');
const f64 = (values: number[], shape: number[]) => tensor(values, shape, 'float64');
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

t.test('shape mismatches → ShapeError naming the op and both shapes', async (t) => {
  const a = f64(range(6), [2, 3]);
  const b = f64(range(4), [4]);
  for (const [name, op] of [
    ['add', add],
    ['sub', sub],
    ['mul', mul],
    ['div', div],
    ['maximum', maximum],
  ] as const) {
    expectError(
      t,
      name,
      () => op(a, b),
      ShapeError,
      new RegExp(`^${name}: `),
      /shapes \[2, 3\] and \[4\] cannot be broadcast/,
    );
  }
  expectError(
    t,
    'where',
    () => where(f64([1, 0, 1, 0], [4]), a, 0),
    ShapeError,
    /^where: /,
    /\[4\] and \[2, 3\]/,
  );
  expectError(
    t,
    'matmul inner',
    () => matmul(a, f64(range(8), [4, 2])),
    ShapeError,
    /^matmul: inner dimensions differ/,
    /a \[2, 3\] has 3 columns/,
    /b \[4, 2\] has 4 rows/,
  );
  expectError(
    t,
    'matmul transB inner',
    () => matmul(a, a, { transB: false }),
    ShapeError,
    /^matmul: /,
    /\[2, 3\]/,
  );
  expectError(
    t,
    'matmul batch',
    () => matmul(f64(range(24), [2, 3, 4]), f64(range(60), [3, 4, 5])),
    ShapeError,
    /^matmul: /,
    /\[2\] and \[3\] cannot be broadcast/,
  );
  expectError(
    t,
    'reshape',
    () => reshape(a, [4, 2]),
    ShapeError,
    /^reshape: /,
    /\[2, 3\] \(6 elements\)/,
    /\[4, 2\]/,
  );
  expectError(
    t,
    'reshape -1',
    () => reshape(a, [4, -1]),
    ShapeError,
    /^reshape: cannot infer -1 in \[4, -1\] for 6 elements/,
  );
  expectError(
    t,
    'concat',
    () => concat([a, f64(range(4), [2, 2])], 0),
    ShapeError,
    /^concat: xs\[1\] has shape \[2, 2\]/,
    /\[2, 3\]/,
  );
  expectError(t, 'concat empty', () => concat([]), ShapeError, /^concat: needs at least one tensor/);
  expectError(
    t,
    'slice box',
    () => slice(a, [1, 1], [2, 2]),
    ShapeError,
    /^slice: /,
    /starts \[1, 1\] sizes \[2, 2\]/,
    /\[2, 3\]/,
  );
  expectError(
    t,
    'slice rank',
    () => slice(a, [0], [1]),
    ShapeError,
    /^slice: starts\/sizes need 2 entries for shape \[2, 3\]/,
  );
  expectError(t, 'pad', () => pad(a, [2, 4], [1, 0]), ShapeError, /^pad: /, /\[2, 4\]/);
  expectError(
    t,
    'permute',
    () => permute(a, [0, 0]),
    ShapeError,
    /^permute: perm \[0, 0\] is not a permutation of 2 axes for shape \[2, 3\]/,
  );
  expectError(
    t,
    'tensor fill',
    () => tensor([1, 2, 3, 4, 5], [2, 3]),
    ShapeError,
    /^tensor: 5 values do not fill shape \[2, 3\]/,
  );
  expectError(t, 'tensor ragged', () => tensor([[1, 2], [3]]), ShapeError, /^tensor: ragged nested array/);
  expectError(
    t,
    'tensor bad shape',
    () => tensor([1, 2], [2.5]),
    ShapeError,
    /^tensor: invalid shape \[2.5\]/,
  );
  expectError(t, 'mse', () => mse(a, b), ShapeError, /^mse: pred \[2, 3\] and target \[4\] differ in size/);
  expectError(
    t,
    'layerNorm gain',
    () => layerNorm(a, f64([1, 1], [2]), f64([0, 0, 0], [3])),
    ShapeError,
    /^layerNorm: gain \[2\] and bias \[3\] must be \[3\] for x \[2, 3\]/,
  );
  expectError(
    t,
    'crossEntropy count',
    () => crossEntropy(a, Int32Array.from([0])),
    ShapeError,
    /^crossEntropy: logits \[2, 3\] hold 2 predictions but 1 targets/,
  );
  expectError(
    t,
    'gather indexShape',
    () => gather(a, Int32Array.from([0, 1]), [3]),
    ShapeError,
    /^gather: indexShape \[3\] does not match 2 indices/,
  );
  expectError(
    t,
    'scatterAdd rows',
    () => scatterAdd(a, Int32Array.from([0]), 4),
    ShapeError,
    /^scatterAdd: src \[2, 3\] must have 1 rows/,
  );
  expectError(
    t,
    'broadcastTo',
    () => broadcastTo(a, [4, 3]),
    ShapeError,
    /^broadcastTo: /,
    /\[2, 3\]/,
    /\[4, 3\]/,
  );
  expectError(
    t,
    'broadcastTo smaller',
    () => broadcastTo(a, [3]),
    ShapeError,
    /^broadcastTo: /,
    /\[2, 3\]/,
    /\[3\]/,
  );
  expectError(t, 'item', () => a.item(), ShapeError, /^item: tensor of shape \[2, 3\] has 6 elements, not 1/);
  expectError(
    t,
    'gradients non-scalar',
    () => gradients(a, [a]),
    ShapeError,
    /^gradients: output has shape \[2, 3\]; pass a seed/,
  );
  expectError(
    t,
    'hvp v',
    () => hvp((x) => sum(mul(x, x)), f64(range(4), [4]), f64(range(3), [3])),
    ShapeError,
    /^hvp: v \[3\] must match x \[4\]/,
  );
});

t.test('wrong rank → ShapeError', async (t) => {
  const v = f64([1, 2, 3], [3]);
  const m = f64(range(6), [3, 2]);
  expectError(
    t,
    'matmul vector a',
    () => matmul(v, m),
    ShapeError,
    /^matmul: both operands need rank >= 2, got a \[3\] and b \[3, 2\]/,
  );
  expectError(
    t,
    'matmul vector b',
    () => matmul(m, f64([1, 2], [2])),
    ShapeError,
    /^matmul: .*got a \[3, 2\] and b \[2\]/,
  );
  expectError(t, 'matmul scalar', () => matmul(f64([2], []), m), ShapeError, /^matmul: .*got a \[\]/);
  expectError(
    t,
    'transpose vector',
    () => transpose(v),
    ShapeError,
    /^transpose: axes -2, -1 out of range for rank 1/,
  );
  expectError(
    t,
    'gather rank-0 table',
    () => gather(f64([1], []), Int32Array.from([0])),
    ShapeError,
    /^gather: table must have rank >= 1, got \[\]/,
  );
  expectError(
    t,
    'layerNorm rank-2 gain',
    () => layerNorm(m, f64([1, 1, 1, 1], [2, 2]), f64([0, 0], [2])),
    ShapeError,
    /^layerNorm: gain \[2, 2\]/,
  );
  expectError(t, 'concat ranks', () => concat([m, v]), ShapeError, /^concat: xs\[1\] has shape \[3\]/);
});

t.test('bad axes → ShapeError naming the axis and the rank', async (t) => {
  const x = f64(range(6), [2, 3]);
  expectError(t, 'sum axis 2', () => sum(x, 2), ShapeError, /^sum: axis 2 is out of range for rank 2/);
  expectError(
    t,
    'sum axis -3',
    () => sum(x, [0, -3]),
    ShapeError,
    /^sum: axis -3 is out of range for rank 2/,
  );
  expectError(
    t,
    'mean axis 1.5',
    () => mean(x, 1.5),
    ShapeError,
    /^mean: axis 1.5 is out of range for rank 2/,
  );
  expectError(
    t,
    'max axis 7',
    () => max(x, [7], true),
    ShapeError,
    /^max: axis 7 is out of range for rank 2/,
  );
  // Composites report the primitive that rejected the axis.
  expectError(t, 'softmax axis 5', () => softmax(x, 5), ShapeError, /axis 5 is out of range for rank 2/);
  expectError(
    t,
    'logsumexp axis -4',
    () => logsumexp(x, -4),
    ShapeError,
    /axis -4 is out of range for rank 2/,
  );
  expectError(
    t,
    'concat axis',
    () => concat([x, x], 2),
    ShapeError,
    /^concat: axis 2 out of range for rank 2/,
  );
  expectError(
    t,
    'transpose axis',
    () => transpose(x, 0, 2),
    ShapeError,
    /^transpose: axes 0, 2 out of range for rank 2/,
  );
  expectError(t, 'permute length', () => permute(x, [1, 0, 2]), ShapeError, /^permute: perm \[1, 0, 2\]/);
});

t.test('dtype mismatches (float32 with float64) → DTypeError', async (t) => {
  const a = f32([1, 2, 3], [3]);
  const b = f64([1, 2, 3], [3]);
  for (const [name, op] of [
    ['add', add],
    ['sub', sub],
    ['mul', mul],
    ['div', div],
    ['maximum', maximum],
  ] as const) {
    expectError(
      t,
      name,
      () => op(a, b),
      DTypeError,
      new RegExp(`^${name}: argument 0 is float32 but argument 1 is float64`),
    );
    expectError(
      t,
      `${name} reversed`,
      () => op(b, a),
      DTypeError,
      new RegExp(`^${name}: argument 0 is float64 but argument 1 is float32`),
    );
  }
  expectError(
    t,
    'matmul',
    () => matmul(f32([1, 2, 3, 4], [2, 2]), f64([1, 2, 3, 4], [2, 2])),
    DTypeError,
    /^matmul: argument 0 is float32 but argument 1 is float64/,
  );
  // The mask is argument 0 and fixes the dtype first.
  expectError(
    t,
    'where branch',
    () => where(f32([1, 0, 1], [3]), a, b),
    DTypeError,
    /^where: argument 0 is float32 but argument 2 is float64/,
  );
  expectError(
    t,
    'where mask',
    () => where(f32([1, 0, 1], [3]), b, 0),
    DTypeError,
    /^where: argument 0 is float32 but argument 1 is float64/,
  );
  expectError(
    t,
    'concat',
    () => concat([a, b]),
    DTypeError,
    /^concat: xs\[1\] is float64, xs\[0\] is float32/,
  );
  expectError(
    t,
    'tensor',
    () => tensor(new Float32Array(3), [3], 'float64'),
    DTypeError,
    /^tensor: data is a Float32Array but dtype float64 was requested/,
  );
  expectError(t, 'mse', () => mse(a, b), DTypeError, /^sub: argument 0 is float32 but argument 1 is float64/);
  expectError(
    t,
    'hvp v dtype',
    () => hvp((x) => sum(mul(x, x)), b, a),
    DTypeError,
    /^hvp: v is float32 but x is float64/,
  );
  // Numbers adopt the tensor's dtype: no error, and the dtype is preserved.
  t.equal(add(a, 1).dtype, 'float32', 'number operand adopts float32');
  t.equal(mul(2, b).dtype, 'float64', 'number operand adopts float64');
});

t.test(
  'out-of-range indices and targets → RangeError naming the op, the value and its position',
  async (t) => {
    const table = f64(range(6), [3, 2]);
    expectError(
      t,
      'gather high',
      () => gather(table, Int32Array.from([0, 3])),
      RangeError,
      /^gather: index 3 at position 1 is out of range \[0, 3\)/,
    );
    expectError(
      t,
      'gather negative',
      () => gather(table, Int32Array.from([-1])),
      RangeError,
      /^gather: index -1 at position 0 is out of range \[0, 3\)/,
    );
    expectError(
      t,
      'scatterAdd high',
      () => scatterAdd(table, Int32Array.from([0, 1, 5]), 4),
      RangeError,
      /^scatterAdd: index 5 at position 2 is out of range \[0, 4\)/,
    );
    const logits = f64(range(12), [3, 4]);
    expectError(
      t,
      'crossEntropy high',
      () => crossEntropy(logits, Int32Array.from([0, 1, 4])),
      RangeError,
      /^crossEntropy: target 4 at position 2 is out of range \[0, 4\)/,
    );
    expectError(
      t,
      'crossEntropy negative',
      () => crossEntropy(logits, Int32Array.from([-2, 1, 0])),
      RangeError,
      /^crossEntropy: target -2 at position 0/,
    );
    expectError(
      t,
      'gather plain array',
      () => gather(table, [0, 1] as unknown as Int32Array),
      TypeError,
      /^gather: indices must be an Int32Array/,
    );
    expectError(
      t,
      'mean over empty axis',
      () => mean(zeros([2, 0], 'float64'), 1),
      RangeError,
      /^mean: reducing over an empty axis of shape \[2, 0\]/,
    );
    expectError(
      t,
      'max over empty axis',
      () => max(zeros([0, 3], 'float64'), 0),
      RangeError,
      /^max: reducing over an empty axis of shape \[0, 3\]/,
    );
    expectError(
      t,
      'pow exponent',
      () => pow(table, NaN),
      RangeError,
      /^pow: exponent must be finite, got NaN/,
    );

    const rows = 5;
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: rows - 1 }), { minLength: 1, maxLength: 8 }),
        fc.nat(7),
        fc.oneof(fc.integer({ min: rows, max: 1000 }), fc.integer({ min: -1000, max: -1 })),
        (good, at, bad) => {
          const idx = Int32Array.from(good);
          const pos = at % idx.length;
          idx[pos] = bad;
          const tbl = f64(range(rows * 2), [rows, 2]);
          const pattern = new RegExp(
            `^gather: index ${bad} at position ${pos} is out of range \\[0, ${rows}\\)`,
          );
          try {
            gather(tbl, idx);
          } catch (e) {
            return e instanceof RangeError && pattern.test(e.message);
          }
          return false;
        },
      ),
      { numRuns: 50 },
    );
    t.pass('gather rejects any out-of-range index at any position, naming both (property)');
  },
);

t.test('non-finite data passed to tensor() → NonFiniteError naming the index and value', async (t) => {
  const e1 = expectError(
    t,
    'NaN',
    () => tensor([1, NaN, 3]),
    NonFiniteError,
    /^tensor: data has non-finite value NaN at flat index 1/,
  );
  t.ok(
    e1 instanceof NonFiniteError && e1.index === 1 && Number.isNaN(e1.value) && e1.op === 'tensor',
    'fields op, index and value',
  );
  expectError(
    t,
    'Infinity',
    () =>
      tensor(
        [
          [1, 2],
          [Infinity, 4],
        ],
        undefined,
        'float64',
      ),
    NonFiniteError,
    /^tensor: data has non-finite value Infinity at flat index 2/,
  );
  expectError(
    t,
    '-Infinity typed',
    () => tensor(Float64Array.from([0, 0, 0, -Infinity]), [2, 2]),
    NonFiniteError,
    /-Infinity at flat index 3/,
  );
  expectError(
    t,
    'NaN float32 typed',
    () => tensor(Float32Array.from([NaN]), []),
    NonFiniteError,
    /NaN at flat index 0/,
  );
  expectError(t, 'number', () => tensor(NaN, [], 'float64'), NonFiniteError, /^tensor: /);
  expectError(
    t,
    'full',
    () => full([2], Infinity, 'float64'),
    NonFiniteError,
    /^full: value has non-finite value Infinity/,
  );
  expectError(
    t,
    'float32 overflow on conversion',
    () => tensor([1e39], [1], 'float32'),
    NonFiniteError,
    /^tensor: data has non-finite value Infinity at flat index 0/,
  );

  fc.assert(
    fc.property(
      fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 20 }),
      fc.nat(19),
      fc.constantFrom(NaN, Infinity, -Infinity),
      fc.constantFrom('float32' as const, 'float64' as const),
      (values, at, bad, dtype) => {
        const pos = at % values.length;
        const data = [...values];
        data[pos] = bad;
        // Finite float64 values may still overflow float32: the first non-finite index is what is reported.
        const stored = dtype === 'float32' ? Float32Array.from(data) : Float64Array.from(data);
        const first = stored.findIndex((v) => !Number.isFinite(v));
        try {
          tensor(data, [data.length], dtype);
        } catch (e) {
          return (
            e instanceof NonFiniteError &&
            e.index === first &&
            new RegExp(`at flat index ${first}$`).test(e.message)
          );
        }
        return false;
      },
    ),
    { numRuns: 100 },
  );
  t.pass('tensor() rejects a non-finite value at any position in either dtype (property)');
});

t.test(
  'ops that would produce NaN or ±Infinity → NonFiniteError naming the op and the input shapes',
  async (t) => {
    const e = expectError(
      t,
      'log of a negative',
      () => log(f64([1, -1], [2])),
      NonFiniteError,
      /^log: produced NaN at flat index 1 \(input shapes \[2\]\)/,
    );
    t.ok(e instanceof NonFiniteError && e.op === 'log' && e.index === 1, 'NonFiniteError fields');
    expectError(
      t,
      'log of zero',
      () => log(f64([0], [1])),
      NonFiniteError,
      /^log: produced -Infinity at flat index 0/,
    );
    expectError(
      t,
      '1/0',
      () => div(1, f64([2, 0], [2])),
      NonFiniteError,
      /^div: produced Infinity at flat index 1 \(input shapes \[\], \[2\]\)/,
    );
    expectError(t, '0/0', () => div(f64([0], [1]), f64([0], [1])), NonFiniteError, /^div: produced NaN/);
    expectError(
      t,
      'sqrt of a negative',
      () => sqrt(f64([4, -4], [1, 2])),
      NonFiniteError,
      /^sqrt: produced NaN at flat index 1 \(input shapes \[1, 2\]\)/,
    );
    expectError(t, 'exp overflow', () => exp(f64([1000], [1])), NonFiniteError, /^exp: produced Infinity/);
    expectError(
      t,
      'pow of a negative base',
      () => pow(f64([-2], [1]), 0.5),
      NonFiniteError,
      /^pow: produced NaN/,
    );
    expectError(
      t,
      'float32 mul overflow',
      () => mul(f32([1e30, 1], [2]), 1e30),
      NonFiniteError,
      /^mul: produced Infinity at flat index 0 \(input shapes \[2\], \[\]\)/,
    );
    expectError(
      t,
      'float32 sum overflow',
      () => sum(f32([3e38, 3e38], [2])),
      NonFiniteError,
      /^sum: produced Infinity/,
    );
    expectError(
      t,
      'float32 matmul overflow',
      () => matmul(f32([1e20, 1e20], [1, 2]), f32([1e20, 1e20], [2, 1])),
      NonFiniteError,
      /^matmul: produced Infinity .*\[1, 2\], \[2, 1\]/,
    );
    // A backward pass that divides by zero is caught too: d sqrt(x)/dx at 0 is 1/(2·0).
    expectError(
      t,
      'backward of sqrt at 0',
      () => valueAndGrad((x) => sum(sqrt(x)))(f64([0, 1], [2])),
      NonFiniteError,
      /^div: produced Infinity at flat index 0/,
    );
    // With checks switched off the NaN goes through (the switch exists for measured hot paths only).
    setFiniteChecks(false);
    try {
      t.ok(Number.isNaN(log(f64([-1], [1])).data[0]), 'setFiniteChecks(false) lets a NaN through');
    } finally {
      setFiniteChecks(true);
    }
    expectError(t, 'checks back on', () => log(f64([-1], [1])), NonFiniteError, /^log: /);
  },
);

t.test(
  'property: incompatible broadcast shapes always throw, compatible ones give the broadcast shape',
  async (t) => {
    const shape = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 });
    let compatible = 0;
    let incompatible = 0;
    fc.assert(
      fc.property(shape, shape, fc.integer({ min: 0, max: 1000 }), (sa, sb, seed) => {
        // Reference broadcast rule, written independently.
        const rank = Math.max(sa.length, sb.length);
        let ok = true;
        const expected: number[] = [];
        for (let i = 0; i < rank; i++) {
          const da = sa[sa.length - rank + i] ?? 1;
          const db = sb[sb.length - rank + i] ?? 1;
          if (da !== db && da !== 1 && db !== 1) ok = false;
          expected.push(Math.max(da, db));
        }
        const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
        const a: Tensor = tensor(normals(n(sa), seed, 'a'), sa);
        const b: Tensor = tensor(normals(n(sb), seed, 'b'), sb);
        if (ok) {
          compatible++;
          const y = mul(a, b);
          return (
            y.shape.join() === expected.join() && broadcastShapes('x', sa, sb).join() === expected.join()
          );
        }
        incompatible++;
        const pattern = new RegExp(
          `^add: shapes \\[${sa.join(', ')}\\] and \\[${sb.join(', ')}\\] cannot be broadcast together`,
        );
        try {
          add(a, b);
        } catch (e) {
          return e instanceof ShapeError && pattern.test(e.message);
        }
        return false;
      }),
      { numRuns: 200 },
    );
    t.ok(
      compatible > 0 && incompatible > 0,
      `both outcomes exercised (${compatible} compatible, ${incompatible} incompatible)`,
    );
  },
);

t.test('errors are proper Error subclasses with names', async (t) => {
  const s = new ShapeError('op', 'msg');
  const d = new DTypeError('op', 'msg');
  const nf = new NonFiniteError('op', 3, NaN, 'msg');
  for (const [e, name] of [
    [s, 'ShapeError'],
    [d, 'DTypeError'],
    [nf, 'NonFiniteError'],
  ] as const) {
    t.ok(e instanceof Error, `${name} is an Error`);
    t.equal(e.name, name, `${name}.name`);
    t.equal(e.message, 'op: msg', `${name} message is "op: message"`);
  }
});
