/**
 * The CLI's training driver on real MNIST digits with real worker threads and a tiny budget: the
 * pipeline engine gives exactly `referenceLoop`'s parameters, the synchronous engine exactly Trainer's
 * (= referenceLoop with one shard, = the pipeline with one shard); evaluation, diagnostics and sinks sit
 * on the right steps; an abort or a failing sink ends the run with its worker threads closed.
 */
import { existsSync, readdirSync } from 'node:fs';
import t from 'tap';
import { map } from 'rxjs';
import { validateConfig } from '../../src/cli/config.js';
import { buildOptimizer } from '../../src/cli/run-setup.js';
import { type TrainingResult, runTraining } from '../../src/cli/run-training.js';
import { referenceLoop } from '../../src/pipeline/reference.js';
import { evaluate } from '../../src/train/evaluate.js';
import type { StepMetrics } from '../../src/step/records.js';
import type { DiagnosedMetrics } from '../../src/streams/diagnose-every.js';

const config = validateConfig({
  model: { kind: 'mlp', sizes: [784, 16, 10], activation: 'tanh' },
  optimizer: { name: 'sophiaG', lr: 0.002, rho: 0.04, weightDecay: 0 },
  curvature: { estimator: 'gnb', every: 3 },
  data: { name: 'mnist', evalSize: 100 },
  batchSize: 32,
  steps: 8,
  evalEvery: 4,
  seed: 3,
  diagnostics: { every: 4, maxIter: 8 },
});

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.every((v, i) => v === y[i]);
}

function reference(r: TrainingResult, shards: number) {
  return referenceLoop({
    model: r.model,
    optimizer: buildOptimizer(config, r.model),
    batchAt: r.data.batchAt,
    batchSpec: r.data.batchSpec,
    steps: config.steps,
    seed: config.seed,
    shards,
    curvature: config.curvature,
  });
}

/** OS threads of this process (Linux): worker threads show up here until they are terminated. */
const threads = () => (existsSync('/proc/self/task') ? readdirSync('/proc/self/task').length : 0);

t.test(
  'pipeline engine: referenceLoop’s parameters bit for bit; eval and diagnostics on their steps',
  async (t) => {
    const seen: DiagnosedMetrics[] = [];
    const r = await runTraining(config, { workers: 2, onStep: (m) => seen.push(m) });
    t.equal(r.step, 8);
    t.notOk(r.interrupted);
    const ref = reference(r, 4);
    t.ok(sameBits(r.params, ref.state.params), 'final θ equals the 4-shard reference loop');
    t.same(
      seen.map((m) => m.loss),
      ref.history.map((m) => m.loss),
      'same loss at every step',
    );
    t.same(
      seen.filter((m) => m.eval).map((m) => m.step),
      [3, 7],
    );
    t.same(r.finalEval, evaluate(r.model, ref.state.params, r.data.evalBatches), 'final held-out numbers');
    const d = seen.filter((m) => m.diagnostics).map((m) => m.diagnostics!);
    t.same(
      d.map((x) => x.step),
      [3, 7],
    );
    t.ok(
      d.every((x) => x.lambdaMax! > 0 && Number.isFinite(x.trace) && x.lambdaMaxIterations! <= 8),
      JSON.stringify(d),
    );
  },
);

t.test(
  'trainer engine equals Trainer (= one-shard reference), and so does the pipeline with one shard',
  async (t) => {
    const plain = { ...config, diagnostics: undefined };
    const sync = await runTraining(plain, { engine: 'trainer' });
    const ref1 = reference(sync, 1);
    t.ok(sameBits(sync.params, ref1.state.params), 'trainer engine = one-shard reference');
    const piped = await runTraining(plain, { workers: 2, shards: 1 });
    t.ok(sameBits(piped.params, sync.params), 'pipeline with one shard = trainer engine');
    t.ok(
      !sameBits(sync.params, reference(sync, 4).state.params),
      'the shard count is visible (test can fail)',
    );
  },
);

t.test(
  'sinks run after evaluation, see every step, and an abort stops the run with its threads closed',
  async (t) => {
    const before = threads();
    const controller = new AbortController();
    const sunk: number[] = [];
    const evaluated: number[] = [];
    let during = 0;
    const r = await runTraining(
      { ...config, steps: 50, diagnostics: undefined },
      {
        workers: 2,
        signal: controller.signal,
        sinks: (run) =>
          map((m: StepMetrics) => {
            sunk.push(m.step);
            if (m.eval) evaluated.push(m.step);
            during = Math.max(during, threads());
            t.equal(run.state().step, m.step + 1, 'the sink sees θ right after its step');
            if (m.step === 4) controller.abort();
            return m;
          }),
      },
    );
    t.ok(r.interrupted, 'marked interrupted');
    t.ok(r.step >= 5 && r.step < 50, `stopped early at step ${r.step}`);
    t.same(
      sunk,
      Array.from({ length: r.step }, (_, i) => i),
    );
    t.same(evaluated, [3], 'the sink gets the evaluated metrics');
    t.equal(r.finalEval.predictions, 100, 'evaluated where it stopped');
    if (before > 0) {
      t.ok(during >= before + 3, `worker threads ran (${before} → ${during})`);
      t.equal(threads(), before, 'all worker threads ended');
    }
  },
);

t.test('a failing sink fails the run and still closes the worker threads', async (t) => {
  const before = threads();
  await t.rejects(
    runTraining(
      { ...config, diagnostics: undefined },
      {
        workers: 2,
        sinks: () =>
          map((m: StepMetrics) => {
            if (m.step === 1) throw new Error('disk full');
            return m;
          }),
      },
    ),
    /disk full/,
  );
  if (before > 0) t.equal(threads(), before, 'all worker threads ended');
});

t.test('bad driver options are refused, naming the option', async (t) => {
  await t.rejects(
    runTraining(config, { workers: 0 }),
    /runTraining: workers must be a positive integer, got 0/,
  );
  await t.rejects(runTraining(config, { engine: 'gpu' as never }), /engine must be "pipeline" or "trainer"/);
});

t.test(
  'trainer engine: a signal aborted before the start runs no step; a throwing onStep fails the run',
  async (t) => {
    const plain = { ...config, diagnostics: undefined };
    const r = await runTraining(plain, { engine: 'trainer', signal: AbortSignal.abort() });
    t.equal(r.step, 0);
    t.equal(r.interrupted, true);
    t.equal(r.finalEval.predictions, 100, 'the initial parameters are evaluated');
    let calls = 0;
    await t.rejects(
      runTraining(plain, {
        engine: 'trainer',
        onStep: () => {
          if (++calls === 2) throw new Error('callback failed');
        },
      }),
      /callback failed/,
    );
    t.equal(calls, 2, 'no step after the failure reached the callback');
  },
);
