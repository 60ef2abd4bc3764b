/** AdaHessian's block averaging of |ĥ| over conv kernels, dense rows and vectors, read back from state.diag. */
import t from 'tap';
import { scaleByAdahessian, type AdahessianState, type HessianBlock } from '../../src/optim/index.js';
import { assertClose } from './helpers.js';

function diagFor(blocks: HessianBlock[], hHat: number[]): number[] {
  const opt = scaleByAdahessian({ blocks });
  const d = hHat.length;
  const [, state] = opt.update(new Float32Array(d), opt.init(new Float32Array(d)), undefined, {
    hessianDiag: Float32Array.from(hHat),
  });
  return Array.from((state as AdahessianState).diag);
}

t.test('conv kernels: mean of |ĥ| over the spatial positions of each (out, in) pair', async (t) => {
  // Shape [2, 1, 2, 2]: two 2×2 kernels → two groups of 4.
  const hHat = [1, -2, 3, -4, 0.5, 0.5, -0.5, 2.5];
  assertClose(
    t,
    diagFor([{ offset: 0, shape: [2, 1, 2, 2], kind: 'conv' }], hHat),
    [2.5, 2.5, 2.5, 2.5, 1, 1, 1, 1],
    'D',
  );
});

t.test('dense: block length 1 (default), whole rows (−1), or a custom length', async (t) => {
  // Shape [2, 4] at offset 1; coordinate 0 is outside every block.
  const hHat = [-7, 1, -1, 2, -2, 3, 3, -6, 0];
  const block = (blockLength?: number): HessianBlock[] => [
    { offset: 1, shape: [2, 4], kind: 'dense', blockLength },
  ];
  assertClose(t, diagFor(block(), hHat), [7, 1, 1, 2, 2, 3, 3, 6, 0], 'default: per-coordinate |ĥ|');
  assertClose(t, diagFor(block(-1), hHat), [7, 1.5, 1.5, 1.5, 1.5, 3, 3, 3, 3], 'rows of 4 averaged');
  assertClose(t, diagFor(block(2), hHat), [7, 1, 1, 2, 2, 3, 3, 3, 3], 'blocks of 2 averaged');
});

t.test('vector: per coordinate unless a block length is given', async (t) => {
  assertClose(
    t,
    diagFor([{ offset: 0, shape: [4], kind: 'vector' }], [1, -3, 2, 0]),
    [1, 3, 2, 0],
    'default',
  );
  assertClose(
    t,
    diagFor([{ offset: 0, shape: [4], kind: 'vector', blockLength: 2 }], [1, -3, 2, 0]),
    [2, 2, 1, 1],
    'pairs',
  );
});
