/**
 * SOAP-Sophia with `adamLr`: hidden matrices take SOAP-Sophia (with ĝ and the decay mask cut down to
 * them), embeddings and vectors take Muon's auxiliary AdamW, whose first two steps are checked by hand.
 */
import t from 'tap';
import { validateConfig } from '../../src/cli/config.js';
import { buildOptimizer } from '../../src/cli/run-setup.js';
import { initialParams } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { tensorLayoutOf } from '../../src/nn/tensor-layout.js';
import { findStats, soapSophia, type TensorSlot } from '../../src/optim/index.js';

const model = buildModel({ kind: 'gpt', vocabSize: 7, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 4 });
const layout = tensorLayoutOf(model);
const base = {
  name: 'aux-adam',
  model: { kind: 'gpt', blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 4, vocabSize: 7 },
  data: { name: 'moby-dick', evalSize: 4 },
  batchSize: 8,
  steps: 10,
  evalEvery: 10,
  seed: 1,
  curvature: { estimator: 'gnb-gradient', every: 10, first: 0 },
};
const [lr, adamLr, wd] = [0.006, 0.016, 0.1];
const optimizer = { name: 'soapSophia', lr, b1: 0.9, b2: 0.99, weightDecay: wd, winRateTarget: 0.5 };
const aux = { adamLr, adamB1: 0.9, adamB2: 0.95, adamEps: 1e-10, adamWeightDecay: 0 };

const indices = (pick: (role: string) => boolean) =>
  layout.filter((s) => pick(s.role)).flatMap((s) => Array.from({ length: s.size }, (_, i) => s.offset + i));
const matrixIdx = indices((r) => r === 'matrix');
const otherIdx = indices((r) => r !== 'matrix');
const pick = (v: Float32Array, idx: number[]) => Float32Array.from(idx, (i) => v[i]);

t.test(
  'non-matrix tensors: AdamW steps by hand; matrices: SOAP-Sophia on their own sub-vector',
  async (t) => {
    t.ok(otherIdx.length > 0 && matrixIdx.length > 0, 'the layout has both kinds');
    const opt = buildOptimizer(validateConfig({ ...base, optimizer: { ...optimizer, ...aux } }), model);
    const params = initialParams(model, 1) as Float32Array;
    const d = params.length;
    const wave = (k: number) =>
      Float32Array.from({ length: d }, (_, i) => Math.sin(k * 1.7 + i * 0.37) * 0.1);
    const [g0, g1, c0] = [wave(1), wave(2), wave(3)];
    let s = opt.init(params, layout);
    const [u0, s1] = opt.update(g0, s, params, { curvatureGradient: c0 });
    const [u1, s2] = opt.update(g1, s1, params);
    s = s2;

    // AdamW (β 0.9, 0.95, ε 1e-10, no decay) by hand in float64: step 1 is −lr·g/|g|; step 2 bias-corrected.
    const want0 = otherIdx.map((i) => (-adamLr * g0[i]) / (Math.abs(g0[i]) + 1e-10));
    const want1 = otherIdx.map((i) => {
      const m = (0.9 * 0.1 * g0[i] + 0.1 * g1[i]) / (1 - 0.9 ** 2);
      const v = (0.95 * 0.05 * g0[i] ** 2 + 0.05 * g1[i] ** 2) / (1 - 0.95 ** 2);
      return (-adamLr * m) / (Math.sqrt(v) + 1e-10);
    });
    const err = (a: Float32Array, b: number[]) => Math.max(...b.map((x, i) => Math.abs(a[i] - x) / adamLr));
    t.ok(err(pick(u0, otherIdx), want0) < 1e-5, 'AdamW step 1 on embeddings, norms and biases');
    t.ok(err(pick(u1, otherIdx), want1) < 1e-5, 'AdamW step 2');

    // The matrices' group equals SOAP-Sophia run alone on the matrices' coordinates, ĝ and decay cut alike.
    const subLayout: TensorSlot[] = [];
    let at = 0;
    for (const slot of layout.filter((x) => x.role === 'matrix')) {
      subLayout.push({ ...slot, offset: at });
      at += slot.size;
    }
    const { name: _name, ...hyper } = optimizer;
    const alone = soapSophia({
      ...hyper,
      curvature: 'curvatureGradient',
      mask: new Uint8Array(matrixIdx.length).fill(1), // every GPT matrix is a decayed linear weight
    });
    const pm = pick(params, matrixIdx);
    const sa = alone.init(pm, subLayout);
    const [a0, sa1] = alone.update(pick(g0, matrixIdx), sa, pm, { curvatureGradient: pick(c0, matrixIdx) });
    const [a1] = alone.update(pick(g1, matrixIdx), sa1, pm);
    t.same(Array.from(pick(u0, matrixIdx)), Array.from(a0), 'matrices, step 1 (the basis only: zeros)');
    t.same(Array.from(pick(u1, matrixIdx)), Array.from(a1), 'matrices, step 2, bit for bit');
    t.ok(
      Array.from(a1).some((x) => x !== 0),
      'step 2 moves the matrices',
    );
    t.equal(findStats(s)!.hessianUpdates, 1, 'the GNB ĝ reached the matrices');
  },
);

t.test('the auxiliary AdamW options are validated by the catalog, naming the key', async (t) => {
  const bad = (extra: object) => () =>
    validateConfig({ ...base, optimizer: { ...optimizer, adamLr: 0.01, ...extra } });
  t.doesNotThrow(bad({}), 'the base config is valid');
  t.throws(bad({ adamLr: -1 }), /adamLr/);
  t.throws(bad({ adamB2: 1 }), /adamB2/);
  t.throws(bad({ adamWeightDecay: -0.1 }), /adamWeightDecay/);
  t.throws(bad({ nesterov: 'yes' }), /nesterov/);
});
