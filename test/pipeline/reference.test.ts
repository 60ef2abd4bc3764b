import t from 'tap';
import { adamw, sophiaG, sophiaH } from '../../src/optim/index.js';
import { referenceLoop } from '../../src/pipeline/reference.js';
import { batchGradient } from '../../src/step/shards.js';
import { train } from '../../src/train/train.js';
import { initialParams, type Model } from '../../src/nn/model.js';
import { NonFiniteError } from '../../src/tensor/errors.js';
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

t.test(
  'a GNB probe that hits NaN loses its estimate, not its step, in Trainer and the reference loop',
  async (t) => {
    // The first forward pass after the batch of step 3 is fetched is the probe's: make it raise.
    const run = (loop: 'trainer' | 'reference') => {
      let armed = false;
      const poisoned: Model = {
        ...model,
        logits: (p, x) => {
          if (armed) {
            armed = false;
            throw new NonFiniteError('test', 0, NaN, 'poisoned probe forward pass');
          }
          return model.logits(p, x);
        },
      };
      const common = {
        model: poisoned,
        batchAt: (k: number) => ((armed = k === 3), batchOf(k)),
        steps: 8,
        seed: 5,
        curvature: { estimator: 'gnb' as const, every: 3, first: 0 },
      };
      return loop === 'trainer'
        ? train({ ...common, optimizer: sophiaG({ lr: 0.02, rho: 0.05 }) })
        : referenceLoop({ ...common, optimizer: sophiaG({ lr: 0.02, rho: 0.05 }), shards: 1 });
    };
    const a = run('trainer');
    const b = run('reference');
    t.equal(firstBitDifference(a.state.params, b.state.params), -1, 'bit-identical');
    for (const h of [a.history, b.history]) {
      t.same(
        h.map((m) => m.skipped),
        new Array<boolean>(8).fill(false),
        'no step skipped',
      );
      t.same(
        h.map((m) => m.curvatureStaleness),
        [0, undefined, undefined, undefined, undefined, undefined, 0, undefined],
        'estimates of steps 0 and 6 applied; step 3 lost its own',
      );
    }
  },
);
