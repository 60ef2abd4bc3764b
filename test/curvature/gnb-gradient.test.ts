/**
 * The 'gnb-gradient' estimator: GNB's sampled-label gradient ĝ itself (its square is exactly the 'gnb'
 * estimate), handed to the optimizer as extra.curvatureGradient on the step that applies it.
 */
import t from 'tap';
import { gnbDiag } from '../../src/curvature/gnb-diag.js';
import { initialParams } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { adamw } from '../../src/optim/index.js';
import type { GradientTransformation, UpdateExtra } from '../../src/optim/index.js';
import { Tensor } from '../../src/tensor/index.js';
import { estimateCurvature, resolveCurvature } from '../../src/step/curvature-schedule.js';
import { Trainer } from '../../src/train/train.js';
import { batchOf, modelSpec } from '../pipeline/fixtures.js';

t.test('ĝ squared is the GNB diagonal, bit for bit; ĝ has signs', async (t) => {
  const model = buildModel(modelSpec);
  const params = initialParams(model, 3) as Float32Array;
  const b = batchOf(2);
  const inputs = { data: b.inputs, shape: b.inputShape };
  const flat = new Tensor(params, [params.length]);
  const g = gnbDiag(model, flat, inputs, { seed: 7, step: 2, unsquared: true }).diag;
  const d = gnbDiag(model, flat, inputs, { seed: 7, step: 2 }).diag;
  t.ok(
    d.every((x, i) => x === Math.fround(g[i] * g[i])),
    'gnb = ĝ⊙ĝ',
  );
  t.ok(g.some((x) => x < 0) && g.some((x) => x > 0), 'signed, not squared');
  const e = estimateCurvature(resolveCurvature({ estimator: 'gnb-gradient' }), model, params, b, 7, 2);
  t.same(Array.from(e.diag), Array.from(g), 'the estimator carries ĝ');
});

t.test('Trainer hands ĝ as extra.curvatureGradient, never as hessianDiag', async (t) => {
  const model = buildModel(modelSpec);
  const seen: { params: Float32Array; extra?: UpdateExtra }[] = [];
  const inner = adamw({ lr: 0.01 });
  const spy: GradientTransformation = {
    init: (p, layout) => inner.init(p, layout),
    update: (g, s, p, extra) => {
      seen.push({ params: p!.slice(), ...(extra ? { extra } : {}) });
      return inner.update(g, s as never, p, extra);
    },
  };
  const trainer = new Trainer({
    model,
    optimizer: spy,
    batchAt: batchOf,
    steps: 5,
    seed: 5,
    curvature: { estimator: 'gnb-gradient', every: 2, first: 0 },
  });
  for (const _ of trainer) continue;
  seen.forEach((s, step) => {
    const g = s.extra?.curvatureGradient;
    t.equal(g !== undefined, step % 2 === 0, `step ${step}: ĝ exactly when due`);
    t.equal(s.extra?.hessianDiag, undefined, 'never a diagonal');
    if (!g) return;
    const want = gnbDiag(
      model,
      new Tensor(s.params, [s.params.length]),
      {
        data: batchOf(step).inputs,
        shape: batchOf(step).inputShape,
      },
      { seed: 5, step, unsquared: true },
    ).diag;
    t.same(Array.from(g), Array.from(want), `step ${step}: ĝ at θ of its launch`);
  });
});
