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
  t.match(e.problems, [
    /unknown key "lr"; known keys: model, modelModules, optimizer/,
    /shards must be >= 1, got 0/,
    /workers must be an integer, got number 1.5/,
    /maxInFlight must be an integer, got string "2"/,
    /mode must be "deterministic" or "async", got string "fast"/,
    /unknown key "curvature.evrey"/,
  ]);
  t.equal(e.problems.length, 6);
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
    /curvature.estimator must be "gnb" or "hutchinson"/,
  );
  t.throws(
    () => resolvePipelineConfig({ ...base, curvature: { estimator: 'gnb', every: 0 } }),
    /curvature.every must be an integer >= 1, got 0/,
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
