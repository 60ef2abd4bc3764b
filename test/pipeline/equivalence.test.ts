import t from 'tap';
import { lastValueFrom, toArray } from 'rxjs';
import {
  adamw,
  muon,
  psgdKron,
  soapSophia,
  sophiaG,
  sophiaH,
  type GradientTransformation,
} from '../../src/optim/index.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import { WorkerPools } from '../../src/workers/pools.js';
import type { CurvatureConfig } from '../../src/step/curvature-schedule.js';
import { batchOf, firstBitDifference, fixtureReference, model, modelSpec, spec } from './fixtures.js';

const STEPS = 12;
const cases: { name: string; optimizer: () => GradientTransformation; curvature?: CurvatureConfig }[] = [
  {
    name: 'sophiaG + gnb',
    optimizer: () => sophiaG({ lr: 0.02, rho: 0.05 }),
    curvature: { estimator: 'gnb', every: 3 },
  },
  { name: 'adamw', optimizer: () => adamw({ lr: 0.01 }) },
  {
    name: 'sophiaH + hutchinson, staleness 2',
    optimizer: () => sophiaH({ lr: 0.01 }),
    curvature: { estimator: 'hutchinson', every: 4, first: 0, staleness: 2 },
  },
  {
    // The pair (v, H·v) crosses the probe worker's wire and the coordinator's queue as two vectors.
    name: 'psgdKron hessian + hvp-pair, staleness 1',
    optimizer: () => psgdKron({ mode: 'hessian', lr: 0.05 }),
    curvature: { estimator: 'hvp-pair', every: 3, first: 0, staleness: 1 },
  },
  { name: 'psgdKron whitening', optimizer: () => psgdKron({ lr: 0.01 }) },
  { name: 'muon', optimizer: () => muon({ lr: 0.02, adamLr: 0.01 }) },
  {
    name: 'soapSophia + gnb-gradient, staleness 1',
    optimizer: () => soapSophia({ lr: 0.01, curvature: 'curvatureGradient', preconditionFrequency: 2 }),
    curvature: { estimator: 'gnb-gradient', every: 3, first: 0, staleness: 1 },
  },
];

for (const workers of [1, 2, 4]) {
  t.test(
    `deterministic pipeline with ${workers} gradient worker(s) equals the reference loop bit for bit`,
    async (t) => {
      // One set of warm threads for all cases: starting a thread costs about a second.
      const pools = new WorkerPools({ modelSpec, layoutSize: model.layout.size, workers, probeWorkers: 1 });
      t.teardown(() => pools.close());
      for (const c of cases) {
        const ref = fixtureReference({
          optimizer: c.optimizer(),
          steps: STEPS,
          shards: 4,
          curvature: c.curvature,
        });
        const p = createPipeline({
          model: modelSpec,
          optimizer: c.optimizer(),
          seed: 5,
          shards: 4,
          pools,
          batchSpec: spec,
          curvature: c.curvature,
        });
        try {
          const metrics = await lastValueFrom(p.run(fromDataset(batchOf, { end: STEPS })).pipe(toArray()));
          t.equal(metrics.length, STEPS, `${c.name}: one metric per step`);
          t.equal(
            firstBitDifference(p.params(), ref.state.params),
            -1,
            `${c.name}: parameters bit-identical`,
          );
          t.same(
            metrics.map((m) => m.loss),
            ref.history.map((m) => m.loss),
            `${c.name}: losses identical`,
          );
          t.same(
            metrics.map((m) => m.curvatureStaleness ?? null),
            ref.history.map((m) => m.curvatureStaleness ?? null),
            `${c.name}: same curvature schedule`,
          );
          t.equal(p.snapshot().step, STEPS);
        } finally {
          await p.close();
        }
      }
    },
  );
}
