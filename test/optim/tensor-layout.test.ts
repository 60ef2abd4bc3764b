/** The tensor layout matrix-aware transformations receive at init: roles from the models, checks, plumbing. */
import t from 'tap';
import { gpt } from '../../src/nn/models/gpt.js';
import { mlp } from '../../src/nn/models/mlp.js';
import { tensorLayoutOf } from '../../src/nn/tensor-layout.js';
import {
  chain,
  checkTensorLayout,
  injectHyperparams,
  requireTensorLayout,
  restrictToSlots,
  roleMask,
  scaleByLearningRate,
  type GradientTransformation,
  type TensorLayout,
} from '../../src/optim/index.js';

t.test('an MLP: hidden weights are matrices, the last weight is the head, biases are vectors', async (t) => {
  const layout = tensorLayoutOf(mlp({ kind: 'mlp', sizes: [5, 4, 3, 2] }));
  t.same(
    layout.map((s) => [s.name, s.role, s.shape, s.offset, s.size]),
    [
      ['layers.0.weight', 'matrix', [4, 5], 0, 20],
      ['layers.0.bias', 'vector', [4], 20, 4],
      ['layers.1.weight', 'matrix', [3, 4], 24, 12],
      ['layers.1.bias', 'vector', [3], 36, 3],
      ['layers.2.weight', 'head', [2, 3], 39, 6],
      ['layers.2.bias', 'vector', [2], 45, 2],
    ],
  );
});

t.test('a GPT: embeddings, hidden matrices, vectors; a tied head has no head tensor', async (t) => {
  const spec = { kind: 'gpt' as const, vocabSize: 7, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 4 };
  const tied = tensorLayoutOf(gpt(spec));
  const roles = Object.fromEntries(tied.map((s) => [s.name, s.role]));
  t.equal(roles['transformer.wte.weight'], 'embedding');
  t.equal(roles['transformer.wpe.weight'], 'embedding');
  t.equal(roles['transformer.h.0.attn.c_attn.weight'], 'matrix');
  t.equal(roles['transformer.h.0.attn.c_proj.weight'], 'matrix');
  t.equal(roles['transformer.h.0.mlp.c_fc.weight'], 'matrix');
  t.equal(roles['transformer.h.0.mlp.c_proj.weight'], 'matrix');
  t.equal(roles['transformer.h.0.ln_1.weight'], 'vector');
  t.equal(roles['transformer.h.0.attn.c_attn.bias'], 'vector');
  t.notOk(tied.some((s) => s.role === 'head'));
  const untied = tensorLayoutOf(gpt({ ...spec, tied: false }));
  t.equal(untied.find((s) => s.name === 'lm_head.weight')?.role, 'head');
  const model = gpt(spec);
  t.equal(
    tied.reduce((n, s) => n + s.size, 0),
    model.layout.size,
    'the slots cover the flat vector',
  );
});

t.test("restrictToSlots: the picked tensors' values, concatenated in offset order", async (t) => {
  // Listed out of order, with a gap between the picked tensors.
  const layout: TensorLayout = [
    { name: 'c', offset: 5, size: 2, shape: [2, 1], role: 'matrix' },
    { name: 'a', offset: 0, size: 2, shape: [1, 2], role: 'matrix' },
    { name: 'b', offset: 2, size: 3, shape: [3], role: 'vector' },
  ];
  const values = Uint8Array.from([1, 0, 2, 3, 4, 0, 1]);
  t.same(Array.from(restrictToSlots(layout, values, (s) => s.role === 'matrix')), [1, 0, 0, 1]);
  t.same(Array.from(restrictToSlots(layout, values, (s) => s.role === 'vector')), [2, 3, 4]);
  t.same(Array.from(restrictToSlots(layout, values, () => false)), []);
});

t.test('checkTensorLayout names what is wrong', async (t) => {
  const ok: TensorLayout = [
    { name: 'w', offset: 0, size: 6, shape: [2, 3], role: 'matrix' },
    { name: 'b', offset: 6, size: 2, shape: [2], role: 'vector' },
  ];
  t.equal(checkTensorLayout('x', ok, 8), ok);
  t.throws(() => checkTensorLayout('x', ok, 7), /tensor 'b' spans \[6, 8\) but the parameter vector has 7/);
  t.throws(
    () => checkTensorLayout('x', [{ ...ok[0], size: 5 }], 8),
    /tensor 'w': size 5 is not the product of its shape/,
  );
  t.throws(
    () => checkTensorLayout('x', [{ ...ok[1], role: 'matrix' }], 8),
    /tensor 'b': a matrix must be 2-D, got shape \[2\]/,
  );
  t.throws(() => checkTensorLayout('x', [{ ...ok[1], role: 'bias' }], 8), /role must be one of matrix/);
  t.throws(() => checkTensorLayout('x', [ok[0], { ...ok[1], offset: 5 }], 8), /tensors 'w' and 'b' overlap/);
  t.throws(() => checkTensorLayout('x', 'w', 8), /layout must be an array/);
  t.throws(() => requireTensorLayout('muon', undefined, 8), /muon needs the parameter layout/);
  t.same([...roleMask(ok, 8, (s) => s.role === 'matrix')], [1, 1, 1, 1, 1, 1, 0, 0]);
});

t.test('chain and injectHyperparams hand the layout on to every member', async (t) => {
  const seen: unknown[] = [];
  const probe: GradientTransformation = {
    init(_params, layout) {
      seen.push(layout);
      return {};
    },
    update: (g, s) => [g, s],
  };
  const layout: TensorLayout = [{ name: 'w', offset: 0, size: 2, shape: [2], role: 'vector' }];
  chain(probe, scaleByLearningRate(1), probe).init(new Float32Array(2), layout);
  injectHyperparams((o: { lr: number }) => chain(probe, scaleByLearningRate(o.lr)))({ lr: 1 }).init(
    new Float32Array(2),
    layout,
  );
  t.same(seen, [layout, layout, layout]);
});
