/**
 * `pipeline.probes$`: one timing per applied curvature estimate (the probe worker's computation time,
 * the successful attempt's after a retry), emitted before the metrics of the step that applies it, and
 * none for other steps. Timings are metadata: θ stays bit-identical to `referenceLoop`.
 */
import t from 'tap';
import { lastValueFrom, tap, toArray } from 'rxjs';
import { type AppliedProbe, createPipeline } from '../../src/pipeline/create-pipeline.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import {
  batchOf,
  firstBitDifference,
  gnbCurvature,
  gnbOptimizer,
  gnbReference,
  modelSpec,
  spec,
} from './fixtures.js';

const STEPS = 10;
const curvature = gnbCurvature;
const optimizer = gnbOptimizer;
const reference = gnbReference(STEPS);

for (const retried of [false, true]) {
  t.test(
    `a GNB schedule reports a probe time for every applied estimate${retried ? ' (retried probe)' : ''}`,
    async (t) => {
      const p = createPipeline({
        model: modelSpec,
        optimizer: optimizer(),
        seed: 5,
        workers: 2,
        shards: 4,
        batchSpec: spec,
        curvature,
        ...(retried ? { injectFailures: { probe: { step: 4, times: 1, mode: 'throw' as const } } } : {}),
      });
      try {
        const probes: AppliedProbe[] = [];
        const seenBeforeMetrics: number[] = [];
        p.probes$.subscribe((x) => probes.push(x));
        const metrics = await lastValueFrom(
          p.run(fromDataset(batchOf, { end: STEPS })).pipe(
            tap((m) => seenBeforeMetrics.push(probes.filter((x) => x.appliedAt === m.step).length)),
            toArray(),
          ),
        );
        const applied = metrics.filter((m) => m.curvatureStaleness !== undefined).map((m) => m.step);
        t.ok(applied.length >= 3, `estimates applied at ${applied.join(', ')}`);
        t.same(
          probes.map((x) => x.appliedAt),
          applied,
          'one timing per applied estimate, none for other steps',
        );
        t.same(
          metrics.map((m) => (m.curvatureStaleness !== undefined ? 1 : 0)),
          seenBeforeMetrics,
          "each timing is emitted before its step's metrics",
        );
        for (const x of probes) {
          t.equal(x.estimator, 'gnb');
          t.equal(x.step + curvature.staleness, x.appliedAt, 'launch step + staleness');
          t.ok(Number.isFinite(x.seconds) && x.seconds > 0, `probe of step ${x.step}: ${x.seconds} s`);
        }
        t.equal(
          firstBitDifference(p.params(), reference.state.params),
          -1,
          'θ equals referenceLoop bit for bit',
        );
      } finally {
        await p.close();
      }
    },
  );
}
