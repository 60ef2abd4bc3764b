import t from 'tap';
import { adamw, sophiaG, sophiaH } from '../../src/optim/index.js';
import { referenceLoop } from '../../src/pipeline/reference.js';
import { batchGradient } from '../../src/pipeline/step-math.js';
import { train } from '../../src/train/train.js';
import { initialParams } from '../../src/nn/model.js';
import { batchOf, firstBitDifference, model, spec } from './fixtures.js';

const cases = [
  {
    name: 'sophiaG + gnb',
    optimizer: () => sophiaG({ lr: 0.02, rho: 0.05 }),
    curvature: { estimator: 'gnb' as const, every: 3 },
  },
  { name: 'adamw', optimizer: () => adamw({ lr: 0.01 }), curvature: undefined },
  {
    name: 'sophiaH + hutchinson, staleness 2',
    optimizer: () => sophiaH({ lr: 0.01 }),
    curvature: { estimator: 'hutchinson' as const, every: 4, first: 0, staleness: 2 },
  },
];

t.test('with one shard the reference loop equals Trainer bit for bit', async (t) => {
  for (const c of cases) {
    const common = { model, batchAt: batchOf, batchSpec: spec, steps: 14, seed: 5, curvature: c.curvature };
    const a = train({ ...common, optimizer: c.optimizer() });
    const b = referenceLoop({ ...common, optimizer: c.optimizer(), shards: 1 });
    t.equal(firstBitDifference(a.state.params, b.state.params), -1, c.name);
    t.same(
      b.history.map((m) => [m.step, m.skipped, m.curvatureStaleness]),
      a.history.map((m) => [m.step, m.skipped, m.curvatureStaleness]),
      `${c.name}: same schedule`,
    );
    t.same(
      b.history.map((m) => m.loss),
      a.history.map((m) => m.loss),
      `${c.name}: same losses`,
    );
  }
});

t.test('sharded gradients are close to, but defined independently of, the full-batch gradient', async (t) => {
  const p = initialParams(model, 1) as Float32Array;
  const g1 = batchGradient(model, p, batchOf(0), 1).grad;
  const g4 = batchGradient(model, p, batchOf(0), 4).grad;
  let maxDiff = 0;
  for (let i = 0; i < g1.length; i++) maxDiff = Math.max(maxDiff, Math.abs(g1[i] - g4[i]));
  t.ok(maxDiff < 1e-5, `max |g1 − g4| = ${maxDiff}`);
  // Deterministic: the same shard count always gives the same bits.
  t.equal(firstBitDifference(g4, batchGradient(model, p, batchOf(0), 4).grad), -1);
});
