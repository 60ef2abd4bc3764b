// Scratch memory: buffers are reused across scopes, handed out zeroed, and results computed inside a
// scope are bit for bit those computed outside; an intermediate that escapes its scope reads as NaN
// once poisoning is on (as `npm test` runs).
import t from 'tap';
import { add, mul, tensor, valueAndGrad } from '../../src/tensor/index.js';
import { setScratchPoison, withScratch } from '../../src/tensor/scratch.js';
import { arrayFor, freshArray, kernelOutput } from '../../src/tensor/tensor.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { initialParams, lossFunction } from '../../src/nn/model.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ints } from '../helpers/random.js';

t.test('the k-th request of a size gets the k-th buffer of the previous scope, zeroed', async (t) => {
  const first = withScratch(() => {
    const a = arrayFor('float32', 7);
    const b = arrayFor('float32', 7);
    const c = arrayFor('float64', 7);
    a.fill(1);
    b.fill(2);
    c.fill(3);
    return [a, b, c];
  });
  const [second, zeroed] = withScratch(() => {
    const bufs = [arrayFor('float32', 7), arrayFor('float32', 7), arrayFor('float64', 7)];
    return [bufs, bufs.every((b) => b.every((v) => v === 0))] as const;
  });
  t.equal(second[0], first[0], 'first float32 buffer reused');
  t.equal(second[1], first[1], 'second float32 buffer reused');
  t.equal(second[2], first[2], 'the float64 buffer of that size is its own');
  t.not(second[0], second[1], 'two requests in one scope never share');
  t.ok(zeroed, 'handed out zeroed');
  t.not(arrayFor('float32', 7), first[0], 'outside a scope: a fresh array');
  t.not(
    withScratch(() => freshArray('float32', 7)),
    first[0],
    'freshArray never draws from scratch',
  );
});

t.test('a nested scope belongs to the outer one: nothing is reused until the outer scope ends', async (t) => {
  withScratch(() => {
    const outer = arrayFor('float32', 5);
    outer.fill(4);
    const inner = withScratch(() => arrayFor('float32', 5));
    t.not(inner, outer);
    t.same(Array.from(outer), [4, 4, 4, 4, 4], 'the outer buffer survives the inner scope');
  });
});

t.test('poisoned release: an escaped intermediate reads as NaN; results copied out are intact', async (t) => {
  const was = setScratchPoison(true);
  t.teardown(() => void setScratchPoison(was));
  const x = tensor([1, 2, 3], [3], 'float32');
  const [escaped, copied] = withScratch(() => {
    const y = mul(add(x, 1), x);
    return [y.data, y.data.slice()];
  });
  t.same(Array.from(copied), [2, 6, 12], '(x + 1)·x');
  t.ok(
    Array.from(escaped).every((v) => Number.isNaN(v)),
    'the output left in scratch memory was poisoned',
  );
});

t.test(
  'a kernel output is handed out unzeroed; poisoned, it is NaN until the kernel writes it',
  async (t) => {
    const was = setScratchPoison(false);
    t.teardown(() => void setScratchPoison(was));
    withScratch(() => void kernelOutput('float32', 4).fill(9));
    t.same(
      withScratch(() => Array.from(kernelOutput('float32', 4))),
      [9, 9, 9, 9],
      'the previous contents: the kernel overwrites them',
    );
    setScratchPoison(true);
    t.ok(
      withScratch(() => kernelOutput('float32', 4).every((v) => Number.isNaN(v))),
      'NaN-filled in poison mode, so an element a kernel skips shows',
    );
    t.same(
      withScratch(() => Array.from(arrayFor('float32', 4))),
      [0, 0, 0, 0],
      'arrayFor still zeroes',
    );
  },
);

t.test('an asynchronous function is refused', async (t) => {
  t.throws(() => withScratch(() => Promise.resolve(1)), /must be synchronous/);
  t.equal(withScratch(() => arrayFor('float32', 3)).length, 3, 'the arena still works after a refused scope');
});

t.test(
  'a char-GPT gradient in scratch memory equals the one without, bit for bit, step after step',
  async (t) => {
    const model = buildModel({ kind: 'gpt', vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16 });
    const params = initialParams(model, 3) as Float32Array;
    const B = 3;
    const T = 8;
    for (let step = 0; step < 3; step++) {
      const tokens = ints(B * T, 11, 5, 'x', step);
      const targets = ints(B * T, 11, 5, 'y', step);
      const f = lossFunction(model, { data: tokens, shape: [B, T] }, targets);
      const [y0, g0] = valueAndGrad(f)(new Tensor(params, [params.length]));
      const [y1, g1] = withScratch(() => {
        const [y, g] = valueAndGrad(f)(new Tensor(params, [params.length]));
        return [y.item(), g.data.slice()] as const;
      });
      t.equal(y1, y0.item(), `step ${step}: loss`);
      t.same(
        Buffer.from(g1.buffer),
        Buffer.from(g0.data.buffer, g0.data.byteOffset, g0.data.byteLength),
        `step ${step}: gradient bytes`,
      );
      // Move the parameters so the next scope reuses buffers with different contents.
      for (let i = 0; i < params.length; i++) params[i] -= 0.1 * g0.data[i];
    }
  },
);
