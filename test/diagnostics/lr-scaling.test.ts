import t from 'tap';
import { scalingRule, suggestLearningRates } from '../../src/diagnostics/index.js';

t.test('linear scaling for SGD, square root for adaptive methods', async (t) => {
  const sgd = suggestLearningRates({
    lr: 0.1,
    batchSize: 128,
    optimizerKind: 'sgd',
    targets: [256, 64, 128],
  });
  t.same(
    sgd.map((s) => [s.batchSize, s.rule]),
    [
      [256, 'linear'],
      [64, 'linear'],
      [128, 'linear'],
    ],
  );
  t.ok(Math.abs(sgd[0].lr - 0.2) < 1e-15 && Math.abs(sgd[1].lr - 0.05) < 1e-15 && sgd[2].lr === 0.1);
  const adam = suggestLearningRates({ lr: 1e-3, batchSize: 128, optimizerKind: 'AdamW', targets: [512, 32] });
  t.ok(Math.abs(adam[0].lr - 2e-3) < 1e-15 && Math.abs(adam[1].lr - 5e-4) < 1e-15);
  t.equal(adam[0].rule, 'sqrt');
  t.equal(scalingRule('sophia-g'), 'sqrt');
  t.equal(scalingRule('momentum'), 'linear');
  t.throws(() => scalingRule('newton'), /unknown optimizer kind "newton"/);
  t.throws(() => suggestLearningRates({ lr: 0.1, batchSize: 0, optimizerKind: 'sgd', targets: [1] }));
  t.throws(() => suggestLearningRates({ lr: -1, batchSize: 8, optimizerKind: 'sgd', targets: [1] }));
});
