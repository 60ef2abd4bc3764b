/**
 * TrainerEngine in process: probe timing against a model with a known cost per forward pass, results
 * unchanged by the timing wrappers (bit for bit against a plain Trainer), and the pause state carried
 * through a snapshot.
 */
import t from 'tap';
import type { Batch } from '../../src/data/batch.js';
import type { Model } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { injectHyperparams } from '../../src/optim/inject.js';
import { sophiaG } from '../../src/optim/sophia-g.js';
import type { CurvatureConfig } from '../../src/step/curvature-schedule.js';
import { Trainer } from '../../src/train/train.js';
import type { AppliedStep, ProbeTiming } from '../../src/daemon/engine.js';
import { batchSpecOfModel } from '../../src/daemon/engine.js';
import { TrainerEngine } from '../../src/daemon/trainer-engine.js';
import { typedBatch } from './fixtures/daemon.js';

const SPEC = { kind: 'mlp', sizes: [8, 6, 3] } as const;
const HYPER = { lr: 0.01, rho: 0.04 };
const SEED = 3;

const batch = (k: number): Batch => typedBatch(4, k);

/** The mlp with every forward pass made at least `ms` slower, so a probe's span has a known floor. */
function slowModel(ms: number): Model {
  const m = buildModel({ ...SPEC });
  return {
    spec: m.spec,
    paramSpecs: m.paramSpecs,
    layout: m.layout,
    numClasses: m.numClasses,
    logits: (p, i) => {
      const t0 = performance.now();
      while (performance.now() - t0 < ms) {
        // busy wait: a forward pass of known cost
      }
      return m.logits(p, i);
    },
  };
}

async function runEngine(
  model: Model,
  curvature: CurvatureConfig,
  n: number,
): Promise<{ engine: TrainerEngine; probes: ProbeTiming[]; steps: AppliedStep[] }> {
  const engine = new TrainerEngine({
    model,
    optimizer: { name: 'sophiaG', ...HYPER },
    curvature,
    seed: SEED,
    queueLimit: 64,
  });
  const probes: ProbeTiming[] = [];
  const steps: AppliedStep[] = [];
  engine.onProbe((p) => probes.push(p));
  const done = new Promise<void>((resolve) =>
    engine.onStep((s) => {
      steps.push(s);
      if (steps.length === n) resolve();
    }),
  );
  for (let k = 0; k < n; k++)
    if (engine.submit(batch(k)) === null) throw new Error(`batch ${k} refused: queue full`);
  engine.start();
  await done;
  await engine.stop();
  return { engine, probes, steps };
}

t.test('probe duration: GNB spans its own forward pass, not the gradient forward pass', async (t) => {
  const D = 15;
  const { probes, steps } = await runEngine(slowModel(D), { estimator: 'gnb', every: 2 }, 6);
  // launches at t = first (= every) + j·every: steps 2 and 4 of 0..5
  t.same(
    probes.map((p) => [p.step, p.estimator]),
    [
      [2, 'gnb'],
      [4, 'gnb'],
    ],
  );
  for (const p of probes) {
    const stepMs = steps[p.step].metrics.ms;
    t.ok(p.seconds * 1000 >= D, `probe ${(p.seconds * 1000).toFixed(1)} ms >= one forward pass (${D} ms)`);
    t.ok(
      p.seconds * 1000 <= stepMs - D,
      `probe ${(p.seconds * 1000).toFixed(1)} ms leaves out the gradient's forward pass (step ${stepMs.toFixed(1)} ms)`,
    );
  }
});

t.test('probe duration: Hutchinson (its probe yields the gradient) spans its HVP', async (t) => {
  const D = 10;
  const { probes, steps } = await runEngine(slowModel(D), { estimator: 'hutchinson', every: 3 }, 7);
  t.same(
    probes.map((p) => p.step),
    [3, 6],
  );
  for (const p of probes) {
    t.ok(p.seconds * 1000 >= D, `probe ${(p.seconds * 1000).toFixed(1)} ms >= one forward pass`);
    t.ok(p.seconds * 1000 <= steps[p.step].metrics.ms, 'probe within its step');
  }
});

t.test('the timing wrappers change nothing: equal to a plain Trainer, bit for bit', async (t) => {
  const curvature: CurvatureConfig = { estimator: 'gnb', every: 3 };
  const n = 10;
  const { engine } = await runEngine(buildModel({ ...SPEC }), curvature, n);
  const model = buildModel({ ...SPEC });
  const ref = new Trainer({
    model,
    optimizer: injectHyperparams(sophiaG)(HYPER),
    batchAt: batch,
    steps: n,
    seed: SEED,
    batchSpec: batchSpecOfModel(model),
    curvature,
  });
  for (const _ of ref) void _;
  const got = engine.snapshot().params;
  const want = ref.state().params;
  t.equal(got.length, want.length);
  t.ok(
    got.every((v, i) => Object.is(v, want[i])),
    'parameters after 10 steps equal the Trainer run',
  );
});

t.test('a snapshot taken while paused resumes paused', async (t) => {
  const model = buildModel({ ...SPEC });
  const a = new TrainerEngine({ model, optimizer: { name: 'sophiaG', ...HYPER }, seed: SEED, queueLimit: 8 });
  t.equal(a.snapshot().paused, false, 'not paused by default');
  a.pause();
  for (let k = 0; k < 3; k++) a.submit(batch(k));
  const snap = a.snapshot();
  t.equal(snap.paused, true);
  t.equal(snap.queue.length, 3);

  const b = new TrainerEngine({
    model,
    optimizer: { name: 'sophiaG', ...HYPER },
    seed: SEED,
    queueLimit: 8,
    resume: snap,
  });
  t.equal(b.status().paused, true, 'restored paused');
  let applied = 0;
  b.onStep(() => applied++);
  b.start();
  await new Promise((r) => setTimeout(r, 100));
  t.equal(applied, 0, 'no step while paused');
  const all = new Promise<void>((resolve) => b.onStep(() => applied === 3 && resolve()));
  b.resume();
  await all;
  t.equal(b.status().step, 3, 'the restored queue is applied after resume');
  t.equal(b.snapshot().paused, false);
  await b.stop();
});
