/**
 * Remote workers (`hessflow worker` child processes on a real nats-server) give the very parameters of
 * the single-process pipeline: θ after N steps bit-identical to the reference loop with one and with two
 * worker processes, and with local threads and remote workers mixed. Probes cross too (GNB's diagonal,
 * Hutchinson's diagonal with its gradient, the hvp-pair's two vectors).
 */
import t, { type Test } from 'tap';
import { lastValueFrom, toArray } from 'rxjs';
import { type GradientTransformation, psgdKron, sophiaG, sophiaH } from '../../src/optim/index.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import type { CurvatureConfig } from '../../src/step/curvature-schedule.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import { natsSkipReason, startNatsServer } from '../helpers/nats-server.js';
import { startWorkerProcess } from '../helpers/remote-workers.js';
import { batchOf, firstBitDifference, fixtureReference, modelSpec, spec } from './fixtures.js';

const STEPS = 10;
const cases: { name: string; optimizer: () => GradientTransformation; curvature: CurvatureConfig }[] = [
  {
    name: 'sophiaG + gnb, staleness 1',
    optimizer: () => sophiaG({ lr: 0.02, rho: 0.05 }),
    curvature: { estimator: 'gnb', every: 2, staleness: 1 },
  },
  {
    name: 'sophiaH + hutchinson',
    optimizer: () => sophiaH({ lr: 0.01 }),
    curvature: { estimator: 'hutchinson', every: 3, first: 0, staleness: 1 },
  },
  {
    name: 'psgdKron hessian + hvp-pair',
    optimizer: () => psgdKron({ mode: 'hessian', lr: 0.05 }),
    curvature: { estimator: 'hvp-pair', every: 3, first: 0, staleness: 1 },
  },
];

const skip = natsSkipReason();

t.test('remote workers: θ bit-identical to the reference loop', { skip }, async (t) => {
  const nats = await startNatsServer(t);
  const run = 'equivalence';
  await startWorkerProcess(t, nats.url, { run });
  // `local`: local gradient threads beside the remote workers (they take the shards first).
  const check = async (t: Test, workers: number, local: number) => {
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
        batchSpec: spec,
        curvature: c.curvature,
        workers: { local, remote: { nats: nats.url, run } },
      });
      try {
        const metrics = await lastValueFrom(p.run(fromDataset(batchOf, { end: STEPS })).pipe(toArray()));
        t.equal(firstBitDifference(p.params(), ref.state.params), -1, `${c.name}: θ bit-identical`);
        t.same(
          metrics.map((m) => m.loss),
          ref.history.map((m) => m.loss),
          `${c.name}: losses identical`,
        );
        const stats = p.remoteStats()!;
        t.equal(stats.tasksByWorker.size, workers, `${c.name}: ${workers} worker process(es) took tasks`);
        for (const [w, n] of stats.thetaFetches)
          if (workers === 1) t.equal(n, STEPS, `${c.name}: ${w} fetched θ once per version`);
          else t.ok(n <= STEPS, `${c.name}: ${w} fetched θ at most once per version (${n})`);
        t.equal(stats.staleRefused + stats.retries, 0, `${c.name}: nothing refused or retried`);
      } finally {
        await p.close();
      }
    }
  };
  await t.test('one worker process', (t) => check(t, 1, 0));
  await startWorkerProcess(t, nats.url, { run });
  await t.test('two worker processes', (t) => check(t, 2, 0));
  await t.test('one local thread and two worker processes', (t) => check(t, 2, 1));
});
