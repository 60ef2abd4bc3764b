import t from 'tap';
import { adamw } from '../../src/optim/index.js';
import { PipelineConfigError, resolvePipelineConfig } from '../../src/pipeline/config.js';
import { modelSpec } from './fixtures.js';

const base = { model: modelSpec, optimizer: adamw() };

t.test('defaults', async (t) => {
  const c = resolvePipelineConfig(base);
  t.equal(c.shards, 4);
  t.equal(c.probeWorkers, 1);
  t.equal(c.maxRetries, 2);
  t.equal(c.mode, 'deterministic');
  t.equal(c.curvature, null);
  t.ok(c.workers >= 1);
});

t.test('errors name the key, what was expected and what was given, all at once', async (t) => {
  const bad = {
    ...base,
    shards: 0,
    workers: 1.5,
    mode: 'fast',
    maxInFlight: '2',
    lr: 0.1,
    curvature: { estimator: 'gnb', evrey: 3 },
  };
  const e = t.throws(() => resolvePipelineConfig(bad as never)) as PipelineConfigError;
  t.type(e, PipelineConfigError);
  // In the order of the schema's keys; unknown keys of an object after its known ones.
  t.match(e.problems, [
    /^shards must be >= 1, got 0$/,
    /^workers must be an integer, got number 1.5$/,
    /^maxInFlight must be a finite number, got the string "2"$/,
    /^unknown key "curvature.evrey"; known keys: estimator, every, first, staleness, probes$/,
    /^mode must be "deterministic" or "async", got the string "fast"$/,
    /^unknown key "lr"; known keys: model, modelModules, optimizer/,
  ]);
  t.equal(e.problems.length, 6);
  t.equal(e.message, `invalid pipeline config:\n  - ${e.problems.join('\n  - ')}`);
});

t.test('impossible combinations and wrong objects', async (t) => {
  t.throws(() => resolvePipelineConfig({ ...base, maxStaleness: 2 }), /maxStaleness applies to mode "async"/);
  t.throws(
    () => resolvePipelineConfig({ ...base, optimizer: {} as never }),
    /optimizer must be a GradientTransformation/,
  );
  t.throws(
    () => resolvePipelineConfig({ ...base, model: 'mlp' as never }),
    /model must be a model spec object/,
  );
  t.throws(
    () => resolvePipelineConfig({ ...base, curvature: { estimator: 'exact' as never } }),
    /curvature.estimator must be one of "gnb", "hutchinson", "hvp-pair"/,
  );
  t.throws(
    () => resolvePipelineConfig({ ...base, curvature: { estimator: 'gnb', every: 0 } }),
    /curvature.every must be >= 1, got 0/,
  );
  t.throws(
    () => resolvePipelineConfig({ ...base, initialParams: [1, 2] as never }),
    /initialParams must be a Float32Array, got an array/,
  );
  t.throws(() => resolvePipelineConfig({ ...base, pools: {} as never }), /pools must be a WorkerPools/);
  t.throws(() => resolvePipelineConfig(null as never), /config must be an object, got null/);
  const ok = resolvePipelineConfig({
    ...base,
    mode: 'async',
    maxStaleness: 0,
    curvature: { estimator: 'gnb', every: 5 },
  });
  t.equal(ok.maxStaleness, 0);
  t.equal(
    resolvePipelineConfig({ ...base, mode: 'async', curvature: { estimator: 'gnb', every: 5 } }).maxStaleness,
    5,
  );
});

t.test('nested keys, live objects and cross-field rules, reported together', async (t) => {
  const e = t.throws(() =>
    resolvePipelineConfig({
      ...base,
      seed: -1,
      maxStaleness: 2,
      initialParams: new Float64Array(3),
      injectFailures: { gradient: { times: 1, mode: 'crash', shard: 0 } },
    } as never),
  ) as PipelineConfigError;
  t.same(e.problems, [
    'seed must be >= 0, got -1',
    'initialParams must be a Float32Array, got an instance of Float64Array',
    'injectFailures.gradient.mode must be "throw" or "exit", got the string "crash"',
    'unknown key "injectFailures.gradient.shard"; known keys: shardIndex, step, times, mode',
    // A cross-field rule still runs when other keys are bad: it only needs mode and maxStaleness.
    'maxStaleness applies to mode "async"; deterministic mode uses curvature.staleness',
  ]);
  t.match(
    (
      t.throws(() =>
        resolvePipelineConfig({ ...base, curvature: { estimator: 'gnb', every: 2.5, probes: 0 } }),
      ) as Error
    ).message,
    /curvature.every must be an integer, got number 2.5\n {2}- curvature.probes must be >= 1, got 0/,
  );
  t.match(
    (
      t.throws(() =>
        resolvePipelineConfig({ ...base, optimizer: { init: () => 0, update: 1 } as never }),
      ) as Error
    ).message,
    /optimizer must be a GradientTransformation \{init, update\}, got an object/,
  );
  const hooks = { gradient: { step: 3, shardIndex: 1, times: 2, mode: 'throw' as const } };
  const ok = resolvePipelineConfig({ ...base, seed: 7, injectFailures: hooks });
  t.equal(ok.seed, 7);
  t.same(ok.injectFailures, hooks);
  t.equal(ok.optimizer, base.optimizer, 'the optimizer object itself, not a copy');
  const params = new Float32Array(3);
  t.equal(resolvePipelineConfig({ ...base, initialParams: params }).initialParams, params);
});
