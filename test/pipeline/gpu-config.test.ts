/**
 * The `gpu` key: the pipeline config and the CLI's run config accept the four backends, default to
 * "cpu", and refuse anything else with the key, the allowed values and what was given; the pipeline
 * also refuses gpu with several probe workers or with warm pools (which fix it).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { validateConfig } from '../../src/cli/config.js';
import { ConfigError } from '../../src/cli/errors.js';
import { adamw } from '../../src/optim/index.js';
import { PipelineConfigError, resolvePipelineConfig } from '../../src/pipeline/config.js';
import { WorkerPools } from '../../src/workers/pools.js';
import { model, modelSpec } from './fixtures.js';

const base = { model: modelSpec, optimizer: adamw() };
const problems = (config: object): string[] => {
  try {
    resolvePipelineConfig(config as never);
  } catch (e) {
    return e instanceof PipelineConfigError ? e.problems : [`not a PipelineConfigError: ${String(e)}`];
  }
  return ['accepted'];
};

t.test('pipeline: gpu defaults to "cpu" and takes the four backends', async (t) => {
  t.equal(resolvePipelineConfig(base).gpu, 'cpu');
  for (const gpu of ['auto', 'webgpu', 'webasm', 'cpu'] as const)
    t.equal(resolvePipelineConfig({ ...base, gpu }).gpu, gpu);
});

t.test('pipeline: a bad gpu value names the key, the choices and the value', async (t) => {
  t.same(problems({ ...base, gpu: 'cuda' }), [
    'gpu must be one of "auto", "webgpu", "webasm", "cpu", got the string "cuda"',
  ]);
  t.same(problems({ ...base, gpu: true }), [
    'gpu must be one of "auto", "webgpu", "webasm", "cpu", got boolean true',
  ]);
  t.match(problems({ ...base, gpu: 'webgpu', probeWorkers: 2 }), [
    /^probeWorkers must be 1 with gpu "webgpu" \(the probe worker holds the process's one GPU device\), got 2$/,
  ]);
  t.same(problems({ ...base, log: 'stderr' }), [
    'log must be a function (line: string) => void, got the string "stderr"',
  ]);
  t.match(problems({ ...base, injectFailures: { gpu: { mode: 'melt' } } }), [
    /^injectFailures.gpu.mode must be "throw" or "lose"/,
  ]);
  t.equal(resolvePipelineConfig({ ...base, probeWorkers: 2, gpu: 'cpu' }).probeWorkers, 2, 'cpu: any count');
});

t.test('pipeline: gpu is fixed by warm pools', async (t) => {
  const pools = new WorkerPools({ modelSpec, layoutSize: model.layout.size, workers: 1, probeWorkers: 0 });
  t.teardown(() => pools.close());
  t.same(problems({ ...base, pools, gpu: 'webgpu' }), [
    'gpu cannot be set together with pools (the pools fix it)',
  ]);
});

t.test('CLI run config: gpu is optional, checked, and refused with its key', async (t) => {
  const quickstart = JSON.parse(
    readFileSync(fileURLToPath(new URL('../../config/quickstart.json', import.meta.url)), 'utf8'),
  ) as Record<string, unknown>;
  t.equal(validateConfig(quickstart).gpu, undefined);
  t.equal(validateConfig({ ...quickstart, gpu: 'webgpu' }).gpu, 'webgpu');
  const e = t.throws(() => validateConfig({ ...quickstart, gpu: 'metal' }, 'run.json')) as ConfigError;
  t.ok(e instanceof ConfigError);
  t.equal(e.key, 'gpu');
  t.match(
    e.message,
    /^run\.json: gpu: must be one of "auto", "webgpu", "webasm", "cpu", got the string "metal"/,
  );
});
