// Gradient accumulation: in-place updates (no graph) must never mutate a buffer that a VJP shared
// between several inputs, and slice adjoints accumulated in place must equal padded sums.
import t from 'tap';
import { add, gradients, hvp, mul, slice, sum, tensor, valueAndGrad } from '../../src/tensor/index.js';

t.test('a gradient shared by several inputs is copied before an in-place update', async (t) => {
  const x = tensor([1, -2, 3], [3], 'float64').requireGrad();
  const a = mul(x, 2);
  const c = mul(x, 3);
  // add's VJP hands the same g to both inputs, twice over: d/dx = 2·2 + 3 = 7.
  const y = sum(add(add(a, c), a));
  const [g] = gradients(y, [x]);
  t.same(Array.from(g.data), [7, 7, 7]);
  const [gGraph] = gradients(sum(add(add(mul(x, 2), mul(x, 3)), mul(x, 2))), [x], { createGraph: true });
  t.same(Array.from(gGraph.data), [7, 7, 7]);
});

t.test('overlapping contiguous slices accumulate into the flat gradient', async (t) => {
  const f = (x: ReturnType<typeof tensor>) =>
    sum(add(mul(slice(x, [0], [3]), slice(x, [1], [3])), mul(slice(x, [2], [3]), 5)));
  const x = tensor([1, 2, 3, 4, 5], [5], 'float64');
  const [, g] = valueAndGrad(f)(x);
  // f = x0x1 + x1x2 + x2x3 + 5(x2 + x3 + x4)
  t.same(Array.from(g.data), [2, 1 + 3, 2 + 4 + 5, 3 + 5, 5]);
});

t.test('HVPs through overlapping slices (graph mode assembles slice adjoints in one op)', async (t) => {
  // f = x0x1 + x1x2 + x2x3 + 5(x2 + x3 + x4) + Σ x_k³ over the last three: H is tridiagonal plus 6x on
  // the diagonal of coordinates 2..4.
  const f = (x: ReturnType<typeof tensor>) =>
    sum(
      add(
        add(mul(slice(x, [0], [3]), slice(x, [1], [3])), mul(slice(x, [2], [3]), 5)),
        mul(mul(slice(x, [2], [3]), slice(x, [2], [3])), slice(x, [2], [3])),
      ),
    );
  const x = tensor([1, 2, 3, 4, 5], [5], 'float64');
  const hv = hvp(f, x, tensor([1, 0, 0, 0, 0], [5], 'float64'));
  t.same(Array.from(hv.data), [0, 1, 0, 0, 0]);
  const hv2 = hvp(f, x, tensor([0, 0, 1, 0, 0], [5], 'float64'));
  t.same(Array.from(hv2.data), [0, 1, 6 * 3, 1, 0]);
});

t.test(
  'disjoint slices land in untouched zeros as they are; a later use of the same range adds',
  async (t) => {
    // Slice [0, 2) gets −1·(+0) = −0 and 3; nothing reads [2, 3); [3, 5) gets 1 and 2, then x itself
    // adds 10 everywhere.
    const w = tensor([-1, 3], [2], 'float64');
    const f = (x: ReturnType<typeof tensor>) =>
      add(sum(mul(slice(x, [0], [2]), w)), sum(mul(slice(x, [3], [2]), tensor([1, 2], [2], 'float64'))));
    const x = tensor([0, 1, 2, 3, 4], [5], 'float64');
    const [, g] = valueAndGrad(f)(x);
    t.same(Array.from(g.data), [-1, 3, 0, 1, 2]);
    const [, g2] = valueAndGrad((x: ReturnType<typeof tensor>) => add(f(x), sum(mul(x, 10))))(x);
    t.same(Array.from(g2.data), [9, 13, 10, 11, 12]);
    // The first gradient of a range is kept as the VJP made it, sign of zero included (as accumulate
    // keeps a tensor's first gradient); only a second contribution goes through an addition.
    const z = (x: ReturnType<typeof tensor>) =>
      sum(mul(slice(x, [1], [2]), tensor([-0, -0], [2], 'float64')));
    const [, gz] = valueAndGrad(z)(tensor([1, -1, 2, 5], [4], 'float64'));
    t.same(
      Array.from(gz.data).map((v) => Object.is(v, -0)),
      [false, true, true, false],
    );
  },
);
