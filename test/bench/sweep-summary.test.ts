/** The sweep's summary arithmetic and its plan validation, on hand-made curves. */
import t from 'tap';
import { parsePlan, runSpec } from '../../bench/sweep/plan.js';
import {
  bestLearningRate,
  firstReach,
  meanCurve,
  meanOf,
  nextEdgeRate,
  passesTo,
  type RunOutcome,
} from '../../bench/sweep/summary.js';

const run = (arm: string, lr: number, seed: number, final: number | null): RunOutcome => ({
  arm,
  lr,
  seed,
  curve: [],
  final,
  cpuSeconds: 1,
});

t.test('meanOf: mean and sample sd; a diverged run makes the mean unknown', async (t) => {
  t.same(meanOf([1, 2, 3]), { mean: 2, sd: 1 });
  t.same(meanOf([4]), { mean: 4, sd: null });
  t.same(meanOf([1, null]), { mean: null, sd: null });
  t.same(meanOf([]), { mean: null, sd: null });
});

t.test(
  'bestLearningRate: lowest mean over seeds; diverged rates lose; ties keep the smaller rate',
  async (t) => {
    const runs = [
      run('a', 0.1, 1, 2.0),
      run('a', 0.1, 2, 2.4), // mean 2.2
      run('a', 0.01, 1, 2.1),
      run('a', 0.01, 2, 2.1), // mean 2.1: best
      run('a', 1, 1, 1.0),
      run('a', 1, 2, null), // diverged on one seed
      run('b', 0.5, 1, 3),
      run('b', 0.2, 1, 3),
    ];
    t.equal(bestLearningRate(runs, 'a'), 0.01);
    t.equal(bestLearningRate(runs, 'b'), 0.2);
    t.equal(bestLearningRate([run('c', 1, 1, null)], 'c'), null);
  },
);

t.test('firstReach: interpolates step and CPU time between evaluations', async (t) => {
  const curve = [
    { step: 100, loss: 3, cpuSeconds: 10 },
    { step: 200, loss: 2, cpuSeconds: 30 },
    { step: 300, loss: 1.5, cpuSeconds: 50 },
  ];
  // 2.5 lies halfway from 3 (step 100, 10 s) to 2 (step 200, 30 s).
  t.same(firstReach(curve, 2.5), { step: 150, cpuSeconds: 20 });
  t.same(firstReach(curve, 3.5), { step: 100, cpuSeconds: 10 }, 'already below at the first evaluation');
  t.same(firstReach(curve, 1.5), { step: 300, cpuSeconds: 50 });
  t.equal(firstReach(curve, 1.4), null, 'never reached');
});

t.test('meanCurve: the seeds averaged per evaluation; its end is the mean final loss', async (t) => {
  const withCurve = (seed: number, losses: number[]): RunOutcome => ({
    ...run('a', 0.1, seed, losses.at(-1)!),
    curve: losses.map((loss, i) => ({ step: 100 * (i + 1), loss, cpuSeconds: 10 * (i + 1) * seed })),
  });
  // One seed ends above the mean (1.765 > 1.748), so it never reaches the target on its own.
  const runs = [
    withCurve(1, [3, 2, 1.747]),
    withCurve(2, [3.2, 2.2, 1.765]),
    withCurve(3, [2.8, 1.9, 1.733]),
  ];
  const mean = meanCurve(runs);
  t.same(
    mean.map((p) => p.step),
    [100, 200, 300],
  );
  t.equal(mean[0].loss, 3);
  t.equal(mean[1].loss, (2 + 2.2 + 1.9) / 3);
  t.equal(mean[1].cpuSeconds, 40, '(20 + 40 + 60) / 3');
  const target = meanOf(runs.map((r) => r.final)).mean!;
  t.equal(mean[2].loss, target, 'the last point is the mean final loss, bit for bit');
  t.equal(firstReach(runs[1].curve, target), null, 'seed 2 alone never reaches the mean');
  t.equal(firstReach(mean, target)!.step, 300, 'the mean curve reaches it at the end of the budget');
  t.same(
    meanCurve([
      withCurve(1, [3, 2]),
      { ...withCurve(2, [3, 2]), curve: [{ step: 200, loss: 2, cpuSeconds: 1 }] },
    ]).map((p) => p.step),
    [200],
    'only steps every run has',
  );
  t.same(meanCurve([]), []);
});

t.test('plans: equal budgets and one reference arm, or an error naming the key', async (t) => {
  const arm = (label: string, lrs: number[], reference?: boolean) => ({
    label,
    config: 'config/gpt-reference-adamw.json',
    lrs,
    ...(reference ? { reference } : {}),
  });
  const plan = (arms: unknown[]) => ({ name: 'p', title: 'P', tuneSeeds: [1], finalSeeds: [1, 2], arms });
  t.equal(parsePlan(plan([arm('A', [1, 2], true), arm('B', [3, 4])]), 'p.json').arms.length, 2);
  t.throws(() => parsePlan(plan([arm('A', [1, 2], true), arm('B', [3])]), 'p.json'), {
    message: /plan\.arms\.1\.lrs: every arm gets the same learning-rate budget: 2 values, got 1/,
  });
  t.throws(() => parsePlan(plan([arm('A', [1]), arm('B', [3])]), 'p.json'), {
    message: /exactly one arm needs "reference": true, got 0/,
  });
  t.throws(() => parsePlan({ ...plan([arm('A', [1], true)]), budget: 3 }, 'p.json'), {
    message: /p\.json: invalid sweep plan[\s\S]*budget/,
  });
  t.equal(
    parsePlan({ ...plan([arm('A', [1], true), arm('B', [3])]), secondTarget: 'B' }, 'p.json').secondTarget,
    'B',
  );
  t.throws(() => parsePlan({ ...plan([arm('A', [1], true)]), secondTarget: 'Muon' }, 'p.json'), {
    message: /plan\.secondTarget: no arm is labelled "Muon"/,
  });
});

t.test("runSpec: an arm's optimizer and curvature fields override its config's", async (t) => {
  const plan = (curvature: unknown) => ({
    name: 'p',
    title: 'P',
    tuneSeeds: [1],
    finalSeeds: [1],
    evalEvery: 25,
    arms: [
      {
        label: 'A',
        config: 'config/gpt-reference-soap-sophia.json',
        optimizer: { b2: 0.95 },
        curvature,
        lrs: [0.006],
        reference: true,
      },
    ],
  });
  const spec = runSpec(parsePlan(plan({ every: 5 }), 'p.json').arms[0], 0.003, 2, undefined, 25);
  // The config's own: b2 0.99, probes every 10 from step 0, evaluation every 100, lr 0.006 → floor 0.0006.
  t.same(spec.config.curvature, { estimator: 'gnb-gradient', every: 5, first: 0 });
  t.match(spec.config.optimizer, { name: 'soapSophia', lr: 0.003, b1: 0.9, b2: 0.95 });
  t.equal(spec.config.evalEvery, 25);
  t.equal(spec.config.seed, 2);
  t.equal(spec.config.schedule?.endValue, 0.0003, 'the floor keeps its 10% of the peak');
  t.throws(() => parsePlan(plan({ every: 0 }), 'p.json'), { message: /plan\.arms\.0\.curvature\.every/ });
  t.throws(() => parsePlan(plan({ evry: 5 }), 'p.json'), { message: /plan\.arms\.0\.curvature/ });
});

t.test('nextEdgeRate: the next rate beyond an edge best, at the grid ratio, at most max times', async (t) => {
  // One tuning seed per rate: [lr, final loss] pairs.
  const next = (finals: [number, number | null][], used = 0, max = 2) =>
    nextEdgeRate(
      finals.map(([lr, f]) => run('a', lr, 1, f)),
      'a',
      used,
      max,
    );
  const topBest: [number, number][] = [[0.015, 2.5], [0.03, 2.4], [0.06, 2.3]]; // prettier-ignore
  // Best at the top edge: next = 0.06 · (0.06 / 0.03); after one extension the edge moves with it.
  t.equal(next(topBest), 0.12);
  t.equal(next([...topBest, [0.12, 2.2]], 1), 0.24);
  // Best at the bottom edge: the ratio is the grid's own (×2 here, ×3.33 below).
  t.equal(next([[0.002, 2.3], [0.004, 2.5], [0.008, 2.7]]), 0.001); // prettier-ignore
  t.equal(next([[0.0006, 2.1], [0.002, 2.2], [0.006, 2.4]]), 0.00018); // prettier-ignore
  // Interior best, budget used up, no budget, nothing converged, a single rate: nothing more.
  t.equal(next([[0.008, 1.76], [0.016, 1.75], [0.032, 2.1]]), null); // prettier-ignore
  t.equal(next(topBest, 2), null);
  t.equal(next(topBest, 0, 0), null);
  t.equal(next([[0.1, null], [0.2, null]]), null); // prettier-ignore
  t.equal(next([[0.1, 2]]), null);
});

t.test('passesTo: one pass per step plus one per probe launched before the step reached', async (t) => {
  t.equal(passesTo(100), 100, 'no curvature: steps');
  // Sophia's official schedule: probes at 10, 20, …; by step 100, probes at 10…90 have launched (9).
  t.equal(passesTo(100, { every: 10 }), 109);
  // first 0 (our preset): probes at 0, 10, …, 90 → 10.
  t.equal(passesTo(100, { every: 10, first: 0 }), 110);
  // AdaHessian: every step from 0, one probe each.
  t.equal(passesTo(50, { every: 1, first: 0 }), 100);
  // Two Hutchinson probes per launch.
  t.equal(passesTo(21, { every: 10, first: 0, probes: 2 }), 21 + 2 * 3);
  // Interpolated steps count the launches before the next whole step.
  t.equal(passesTo(10.5, { every: 10 }), 11.5);
  t.equal(passesTo(10, { every: 10 }), 10, 'the probe at step 10 launches with step 10, not before');
});
