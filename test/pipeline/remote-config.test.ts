/** `workers: { local, remote }`: validated by the pipeline's schema, every problem named at once. */
import t from 'tap';
import { sgd } from '../../src/optim/index.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { resolvePipelineConfig } from '../../src/pipeline/config.js';

const base = { model: { kind: 'mlp', sizes: [2, 2] }, optimizer: sgd({ lr: 0.1 }) };
const problems = (workers: unknown) => {
  try {
    resolvePipelineConfig({ ...base, workers } as never);
    return [];
  } catch (e) {
    return (e as { problems: string[] }).problems;
  }
};

t.test('remote workers resolve with their defaults', (t) => {
  const r = resolvePipelineConfig({ ...base, workers: { remote: { nats: 'nats://h:4222', run: 'exp-1' } } });
  t.equal(r.workers, 0, 'no local threads unless asked');
  t.same(r.remote, { nats: 'nats://h:4222', run: 'exp-1' });
  const mixed = resolvePipelineConfig({ ...base, workers: { local: 2, remote: { nats: ['a:1', 'b:2'] } } });
  t.equal(mixed.workers, 2);
  t.same(mixed.remote?.nats, ['a:1', 'b:2']);
  t.equal(resolvePipelineConfig({ ...base, workers: 3 }).remote, null, 'a number is local threads only');
  t.end();
});

t.test('bad remote configs name the key and the value', (t) => {
  t.same(problems({ local: 0 }), [
    'workers needs local threads (local >= 1) or remote workers (remote: { nats, … })',
  ]);
  t.same(problems({ remote: { nats: '' } }), [
    'workers.remote.nats must be a non-empty string, got the string ""',
  ]);
  t.same(problems({ remote: { nats: 'x', run: 'a.b', extra: 1, heartbeatMs: 0 } }), [
    'workers.remote.run must be 1 to 64 letters, digits, "_" or "-" (a NATS subject token), got the string "a.b"',
    'workers.remote.heartbeatMs must be >= 1, got 0',
    'unknown key "workers.remote.extra"; known keys: nats, run, tokenFile, tokenEnv, taskTimeoutMs, noWorkerTimeoutMs, ackTimeoutMs, heartbeatMs, connectTimeoutMs',
  ]);
  t.same(problems('x'), [
    'workers must be an integer >= 1 (local threads) or { local, remote }, got the string "x"',
  ]);
  t.end();
});

t.test('createPipeline refuses what remote workers cannot do, before connecting', (t) => {
  const remote = { nats: 'nats://127.0.0.1:1', run: 'x' };
  t.throws(
    () => createPipeline({ ...base, workers: { remote }, modelModules: ['file:///x.js'] }),
    /workers.remote cannot be used with modelModules/,
  );
  t.throws(
    () => createPipeline({ ...base, workers: { remote }, gpu: 'webgpu' }),
    /gpu "webgpu" needs local threads/,
  );
  t.end();
});
