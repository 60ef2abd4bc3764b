import t from 'tap';
import { Packr } from 'msgpackr';
import { lastValueFrom, toArray } from 'rxjs';
import { adamw, psgdKron, sophiaG, sophiaH } from '../../src/optim/index.js';
import type { PipelineCheckpoint } from '../../src/pipeline/checkpoint.js';
import { PipelineConfigError } from '../../src/pipeline/config.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import type { CurvatureConfig } from '../../src/step/curvature-schedule.js';
import type { StepMetrics } from '../../src/step/records.js';
import { WorkerPools } from '../../src/workers/pools.js';
import { batchOf, firstBitDifference, fixtureReference, model, modelSpec, spec } from './fixtures.js';

const STEPS = 12;
// A checkpoint on disk goes through msgpackr, as the daemon's checkpoints do.
const packr = new Packr({ structuredClone: true });
const throughDisk = <S>(cp: PipelineCheckpoint<S>) => packr.unpack(packr.pack(cp)) as PipelineCheckpoint<S>;

const cases: { name: string; optimizer: () => ReturnType<typeof adamw>; curvature?: CurvatureConfig }[] = [
  // every 3, staleness 2: the estimate launched at step 3 is applied at 5, so it is pending at a stop
  // after step 4 (and the one launched at 6 at a stop after step 7).
  {
    name: 'sophiaG + gnb, staleness 2',
    optimizer: () => sophiaG({ lr: 0.02, rho: 0.05 }),
    curvature: { estimator: 'gnb', every: 3, staleness: 2 },
  },
  {
    name: 'sophiaH + hutchinson, staleness 2',
    optimizer: () => sophiaH({ lr: 0.01 }),
    curvature: { estimator: 'hutchinson', every: 4, first: 0, staleness: 2 },
  },
  { name: 'adamw', optimizer: () => adamw({ lr: 0.01 }) },
  {
    // A pending pair crosses the checkpoint as {diag: empty, pair: {v, hv}}.
    name: 'psgdKron hessian + hvp-pair, staleness 2',
    optimizer: () => psgdKron({ mode: 'hessian', lr: 0.05 }),
    curvature: { estimator: 'hvp-pair', every: 3, staleness: 2 },
  },
];

/** The settings both halves of a resumed run share (curvature: the first case's). */
function common0(pools: WorkerPools) {
  return { model: modelSpec, seed: 5, shards: 4, pools, batchSpec: spec, curvature: cases[0].curvature };
}

const runOf = <S>(p: ReturnType<typeof createPipeline<S>>, start: number, end: number) =>
  lastValueFrom(p.run(fromDataset(batchOf, { start, end })).pipe(toArray()));

t.test('a pipeline resumed from a checkpoint continues bit for bit as the uninterrupted run', async (t) => {
  const pools = new WorkerPools({ modelSpec, layoutSize: model.layout.size, workers: 2, probeWorkers: 1 });
  t.teardown(() => pools.close());
  for (const c of cases) {
    const common = { ...common0(pools), curvature: c.curvature };
    const ref = fixtureReference({
      optimizer: c.optimizer(),
      steps: STEPS,
      shards: 4,
      curvature: c.curvature,
    });
    for (const stopAfter of [5, 8]) {
      const first = createPipeline({ ...common, optimizer: c.optimizer() });
      const m1 = await runOf(first, 0, stopAfter);
      const cp = throughDisk(await first.checkpoint());
      await first.close();
      t.equal(cp.step, stopAfter, `${c.name}: checkpoint at step ${stopAfter}`);
      const second = createPipeline({ ...common, optimizer: c.optimizer(), resumeFrom: cp });
      const m2 = await runOf(second, stopAfter, STEPS);
      await second.close();
      const label = `${c.name}, stopped after ${stopAfter} steps`;
      t.equal(firstBitDifference(second.params(), ref.state.params), -1, `${label}: θ bit-identical`);
      const all: StepMetrics[] = [...m1, ...m2];
      t.same(
        all.map((m) => [m.step, m.loss, m.skipped, m.curvatureStaleness]),
        ref.history.map((m) => [m.step, m.loss, m.skipped, m.curvatureStaleness]),
        `${label}: same steps, losses and curvature schedule`,
      );
    }
  }
  // The stop points above really do fall between a launch and its application.
  const first = createPipeline({ ...common0(pools), optimizer: cases[0].optimizer() });
  await runOf(first, 0, 5);
  const cp = await first.checkpoint();
  await first.close();
  t.same(
    cp.pending.map((p) => p.launchedAt),
    [3],
    'the estimate launched at step 3 is carried, with its values',
  );
  t.equal(cp.pending[0].diag.length, model.layout.size);
});

t.test('a checkpoint taken mid-run, on a step’s metrics, resumes exactly', async (t) => {
  const pools = new WorkerPools({ modelSpec, layoutSize: model.layout.size, workers: 1, probeWorkers: 1 });
  t.teardown(() => pools.close());
  const c = cases[0];
  const ref = fixtureReference({ optimizer: c.optimizer(), steps: STEPS, shards: 4, curvature: c.curvature });
  // The source offers all steps; the subscriber checkpoints and stops on step 6's metrics, as the
  // daemon does when it shuts down.
  const first = createPipeline({ ...common0(pools), optimizer: c.optimizer() });
  let taken: Promise<PipelineCheckpoint<unknown>> | null = null;
  const seen: StepMetrics[] = [];
  await new Promise<void>((resolve, reject) =>
    first.run(fromDataset(batchOf, { end: STEPS })).subscribe({
      next: (m) => {
        seen.push(m);
        if (m.step === 6) {
          taken = first.checkpoint();
          first.stop();
        }
      },
      error: reject,
      complete: resolve,
    }),
  );
  const cp = throughDisk(await taken!);
  await first.close();
  t.equal(cp.step, 7, 'the state after step 6');
  t.same(
    seen.map((m) => m.step),
    [0, 1, 2, 3, 4, 5, 6],
  );
  const second = createPipeline({ ...common0(pools), optimizer: c.optimizer(), resumeFrom: cp });
  const rest = await runOf(second, cp.step, STEPS);
  await second.close();
  t.equal(firstBitDifference(second.params(), ref.state.params), -1, 'θ bit-identical after 12 steps');
  t.same(
    [...seen, ...rest].map((m) => m.loss),
    ref.history.map((m) => m.loss),
  );
});

t.test('a bad checkpoint is refused before any thread starts, naming the field', async (t) => {
  const p = createPipeline({
    model: modelSpec,
    optimizer: sophiaG({ lr: 0.02 }),
    workers: 1,
    probeWorkers: 1,
  });
  await runOf(p, 0, 2);
  const good = await p.checkpoint();
  await p.close();
  const n = model.layout.size;
  const bad: [string, unknown, RegExp][] = [
    ['not an object', 3, /resumeFrom must be a checkpoint object/],
    [
      'short params',
      { ...good, params: new Float32Array(n - 1) },
      new RegExp(`resumeFrom\\.params has ${n - 1} values, the model has ${n}`),
    ],
    [
      'NaN in params',
      { ...good, params: good.params.map((x, i) => (i === 4 ? NaN : x)) },
      /params holds a NaN/,
    ],
    ['fractional step', { ...good, step: 1.5 }, /resumeFrom\.step must be an integer >= 0, got 1\.5/],
    ['skipped > step', { ...good, skipped: 3 }, /skipped \(3\) cannot exceed step \(2\)/],
    [
      'estimate from the future',
      { ...good, pending: [{ launchedAt: 2, diag: new Float32Array(n) }] },
      /pending\[0\]\.launchedAt \(2\) must be before step \(2\)/,
    ],
    [
      'short estimate',
      { ...good, pending: [{ launchedAt: 1, diag: new Float32Array(3) }] },
      new RegExp(`pending\\[0\\]\\.diag must be a Float32Array of ${n} values`),
    ],
    [
      'short pair',
      {
        ...good,
        pending: [
          {
            launchedAt: 1,
            diag: new Float32Array(0),
            pair: { v: new Float32Array(n), hv: new Float32Array(3) },
          },
        ],
      },
      new RegExp(`pending\\[0\\]\\.pair\\.hv must be a Float32Array of ${n} values`),
    ],
    ['unknown key', { ...good, extra: 1 }, /unknown key "extra"/],
    [
      'another optimizer’s state',
      { ...good, optState: adamw().init(good.params) },
      /resumeFrom\.optState does not fit the optimizer: sophiaG: state\.m must be a Float32Array/,
    ],
  ];
  for (const [what, cp, message] of bad) {
    let thrown: unknown = null;
    try {
      createPipeline({
        model: modelSpec,
        optimizer: sophiaG({ lr: 0.02 }),
        workers: 1,
        probeWorkers: 1,
        resumeFrom: cp as PipelineCheckpoint<unknown>,
      });
    } catch (e) {
      thrown = e;
    }
    t.type(thrown, PipelineConfigError, what);
    t.match((thrown as Error).message, message, what);
  }
  t.throws(
    () =>
      createPipeline({
        model: modelSpec,
        optimizer: sophiaG(),
        resumeFrom: good,
        initialParams: good.params,
      }),
    /initialParams cannot be set together with resumeFrom/,
  );
});
