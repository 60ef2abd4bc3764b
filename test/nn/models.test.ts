import t from 'tap';
import { buildModel } from '../../src/nn/models/registry.js';
import { initialParams, lossFunction } from '../../src/nn/model.js';
import { ParamStore } from '../../src/nn/param-store.js';
import { Tensor, valueAndGrad } from '../../src/tensor/index.js';
import { rng } from '../../src/random/counter-rng.js';

/** Central differences of f at x in float64, coordinate by coordinate (only `picks`). */
function finiteDiff(f: (x: Tensor) => Tensor, x: Float64Array, picks: number[], h = 1e-6): number[] {
  return picks.map((i) => {
    const p = x.slice();
    const m = x.slice();
    p[i] += h;
    m[i] -= h;
    return (f(new Tensor(p, [x.length])).item() - f(new Tensor(m, [x.length])).item()) / (2 * h);
  });
}

t.test('mlp has PyTorch names, [out, in] weights and deterministic init', async (t) => {
  const m = buildModel({ kind: 'mlp', sizes: [5, 4, 3] });
  t.same(
    m.layout.entries.map((e) => [e.name, e.shape, e.offset]),
    [
      ['layers.0.weight', [4, 5], 0],
      ['layers.0.bias', [4], 20],
      ['layers.1.weight', [3, 4], 24],
      ['layers.1.bias', [3], 36],
    ],
  );
  const a = initialParams(m, 7);
  const b = initialParams(m, 7);
  const c = initialParams(m, 8);
  t.same(Array.from(a), Array.from(b));
  t.not(a[0], c[0]);
  // PyTorch default init: U(-1/sqrt(in), 1/sqrt(in)).
  const bound = 1 / Math.sqrt(5);
  t.ok(Array.from(a.subarray(0, 24)).every((v) => Math.abs(v) <= bound));
  t.same(Array.from(m.layout.maskByTag('decay')), [
    ...new Array(20).fill(1),
    0,
    0,
    0,
    0,
    ...new Array(12).fill(1),
    0,
    0,
    0,
  ]);
});

t.test('gpt layout follows nanoGPT names and ties the head to wte', async (t) => {
  const m = buildModel({ kind: 'gpt', vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8 });
  const names = m.layout.entries.map((e) => e.name);
  t.ok(names.includes('transformer.h.1.attn.c_attn.weight'));
  t.same(m.layout.get('transformer.h.0.attn.c_attn.weight').shape, [24, 8]);
  t.same(m.layout.get('transformer.h.0.mlp.c_fc.weight').shape, [32, 8]);
  t.notOk(names.includes('lm_head.weight'));
  // 11·8 + 8·8 + 2·(4·8 + 24·8+24 + 8·8+8 + 32·8+32 + 8·32+8) + 2·8
  t.equal(m.layout.size, 88 + 64 + 2 * (32 + 216 + 72 + 288 + 264) + 16);
  const untied = buildModel({
    kind: 'gpt',
    vocabSize: 11,
    blockSize: 8,
    nLayer: 1,
    nHead: 2,
    nEmbd: 8,
    tied: false,
  });
  t.same(untied.layout.get('lm_head.weight').shape, [11, 8]);
  t.throws(
    () => buildModel({ kind: 'gpt', vocabSize: 11, blockSize: 8, nLayer: 1, nHead: 3, nEmbd: 8 }),
    /not divisible by nHead/,
  );
  t.throws(() => buildModel({ kind: 'nope' }), /unknown model kind "nope"/);
});

t.test('model gradients match finite differences in float64', async (t) => {
  const r = rng(3, 'models-test');
  const cases = [
    {
      model: buildModel({ kind: 'mlp', sizes: [6, 5, 4], activation: 'tanh' }),
      inputs: { data: r.fillNormal(new Float64Array(3 * 6)), shape: [3, 6] },
      targets: Int32Array.from([0, 3, 1]),
    },
    {
      model: buildModel({ kind: 'mlp', sizes: [6, 5, 4], activation: 'gelu' }),
      inputs: { data: r.fillNormal(new Float64Array(3 * 6)), shape: [3, 6] },
      targets: Int32Array.from([2, 3, 1]),
    },
    {
      model: buildModel({ kind: 'gpt', vocabSize: 7, blockSize: 5, nLayer: 1, nHead: 2, nEmbd: 4 }),
      inputs: { data: Int32Array.from([1, 2, 3, 4, 0, 6, 5, 4]), shape: [2, 4] },
      targets: Int32Array.from([2, 3, 4, 0, 6, 5, 4, 1]),
    },
  ];
  for (const c of cases) {
    const x = initialParams(c.model, 1, 'float64') as Float64Array;
    // Larger random weights than init so every path carries signal.
    for (let i = 0; i < x.length; i++) x[i] += 0.3 * r.normal();
    const f = lossFunction(c.model, c.inputs, c.targets);
    const [, g] = valueAndGrad(f)(new Tensor(x, [x.length]));
    const picks = Array.from({ length: 25 }, () => r.int(x.length));
    const fd = finiteDiff(f, x, picks);
    let worst = 0;
    picks.forEach(
      (i, k) => (worst = Math.max(worst, Math.abs(g.data[i] - fd[k]) / Math.max(1e-3, Math.abs(fd[k])))),
    );
    t.ok(worst < 1e-5, `${c.model.spec.kind}: worst relative error ${worst}`);
  }
});

t.test('gpt logits are causal: changing a later token never changes earlier logits', async (t) => {
  const m = buildModel({ kind: 'gpt', vocabSize: 7, blockSize: 6, nLayer: 2, nHead: 2, nEmbd: 8 });
  const p = m.layout.unflatten(new Tensor(initialParams(m, 2, 'float64'), [m.layout.size]));
  const a = m.logits(p, { data: Int32Array.from([1, 2, 3, 4, 5, 6]), shape: [1, 6] });
  const b = m.logits(p, { data: Int32Array.from([1, 2, 3, 0, 0, 0]), shape: [1, 6] });
  t.same(Array.from(a.data.subarray(0, 3 * 7)), Array.from(b.data.subarray(0, 3 * 7)));
  t.not(a.data[3 * 7], b.data[3 * 7]);
  t.throws(() => m.logits(p, { data: new Int32Array(7), shape: [1, 7] }), /1 <= T <= 6/);
});

t.test('ParamStore shares one SharedArrayBuffer and versions writes', async (t) => {
  const m = buildModel({ kind: 'mlp', sizes: [3, 2] });
  const store = new ParamStore(m.layout);
  t.ok(store.buffer instanceof SharedArrayBuffer);
  store.set(new Float32Array(8).fill(2));
  t.equal(store.version, 1);
  t.equal(store.view('layers.0.bias').length, 2);
  store.view('layers.0.bias')[0] = 5; // a view writes through
  t.equal(store.data[6], 5);
  t.throws(() => store.set(new Float32Array(3)), /got 3 values, store holds 8/);
  t.equal(store.version, 1);
});
