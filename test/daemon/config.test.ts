import { resolve } from 'node:path';
import t from 'tap';
import { OPTIMIZER_HYPERPARAMS, validateDaemonConfig } from '../../src/daemon/config.js';
import { DaemonConfigError } from '../../src/daemon/errors.js';

const base = {
  model: { kind: 'mlp', sizes: [8, 6, 3] },
  optimizer: { name: 'sophiaG', lr: 0.01 },
  checkpointDir: '/tmp/x',
};

t.test('valid config gets defaults', async (t) => {
  const c = validateDaemonConfig(base);
  t.equal(c.host, '127.0.0.1');
  t.equal(c.queueLimit, 256);
  t.same(c.curvature, { estimator: 'gnb', every: 10 });
  t.equal(c.token, undefined);
});

t.test('bad configs name the key', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ ...base, prot: 1 }, /unknown key "prot"/],
    [{ ...base, port: 'x' }, /"port" must be an integer/],
    [{ ...base, port: 70000 }, /"port" must be an integer in \[0, 65535\]/],
    [{ ...base, optimizer: { name: 'adam', lr: 1 } }, /"optimizer.name" must be one of/],
    [{ ...base, optimizer: { name: 'adamw', lr: 1, rho: 1 } }, /unknown key "optimizer.rho"/],
    [{ ...base, optimizer: { name: 'adamw' } }, /"optimizer.lr" must be a finite number/],
    [{ ...base, checkpointDir: undefined }, /"checkpointDir" must be a non-empty string/],
    [{ ...base, token: 'short' }, /"token" must be a string of at least 8/],
    [{ ...base, keepLast: 0 }, /"keepLast" must be an integer/],
    [{ ...base, curvature: { estimator: 'x' } }, /"curvature.estimator"/],
    [{ ...base, model: [] }, /"model" must be a model spec/],
    [[], /must be an object/],
  ];
  for (const [cfg, re] of bad)
    t.throws(() => validateDaemonConfig(cfg), { name: 'DaemonConfigError', message: re });
  t.ok(new DaemonConfigError('x') instanceof Error);
});

t.test('nested unknown keys, impossible values and several problems at once', async (t) => {
  const one: [unknown, string][] = [
    [
      { ...base, optimizer: { name: 'sgd', lr: 0.1, nesterow: true } },
      'daemon config: unknown key "optimizer.nesterow" (allowed: name, lr, momentum, nesterov, weightDecay)',
    ],
    [
      { ...base, curvature: { estimator: 'gnb', every: 0 } },
      'daemon config: "curvature.every" must be >= 1, got 0',
    ],
    [
      { ...base, optimizer: { name: 'sgd', lr: -0.1 } },
      'daemon config: "optimizer.lr" must be > 0, got -0.1',
    ],
    [
      { ...base, optimizer: { name: 'adamw', lr: 0.1, b1: 1 } },
      'daemon config: "optimizer.b1" must be a number in [0, 1), got 1',
    ],
    [
      { ...base, optimizer: 'sophiaG' },
      'daemon config: "optimizer" must be an object like {"name": "sophiaG", "lr": 0.01}, got the string "sophiaG"',
    ],
    [
      { ...base, socketPort: -1 },
      'daemon config: "socketPort" must be an integer in [0, 65535] or null (no socket endpoint), got -1',
    ],
    [
      { ...base, maxFeatureMagnitude: -1 },
      'daemon config: "maxFeatureMagnitude" must be a finite number >= 0 (0 = no bound), got -1',
    ],
    [
      { ...base, divergenceSteps: 2.5 },
      'daemon config: "divergenceSteps" must be an integer in [0, 1000000], got number 2.5',
    ],
  ];
  for (const [cfg, message] of one) t.throws(() => validateDaemonConfig(cfg), { message });

  const e = t.throws(() =>
    validateDaemonConfig({ ...base, port: 1.5, keepLast: 0, token: 12345678, chekpointEvery: 3 }),
  ) as Error;
  t.equal(
    e.message,
    [
      'daemon config: "port" must be an integer in [0, 65535], got number 1.5',
      'daemon config: "token" must be a string of at least 8 characters, got number 12345678',
      'daemon config: "keepLast" must be an integer in [1, 10000], got 0',
      'daemon config: unknown key "chekpointEvery" (allowed: model, optimizer, curvature, host, port, socketPort, token, checkpointDir, checkpointEvery, keepLast, queueLimit, maxFrameBytes, maxBodyBytes, maxConnections, socketIdleTimeoutMs, httpMaxConnections, httpRequestTimeoutMs, httpIdleTimeoutMs, seed, maxFeatureMagnitude, divergenceSteps, engine, workers, shards, ingest)',
    ].join('\n'),
  );
});

t.test('explicit values are kept; checkpointDir is made absolute', async (t) => {
  const c = validateDaemonConfig({
    ...base,
    optimizer: { name: 'adamw', lr: 0.01, b2: 0.99 },
    socketPort: null,
    port: 0,
    checkpointDir: 'runs/ckpt',
  });
  t.equal(c.socketPort, null);
  t.equal(c.port, 0);
  t.equal(c.checkpointDir, resolve('runs/ckpt'));
  t.same(c.optimizer, { name: 'adamw', lr: 0.01, b2: 0.99 });
  t.equal(c.curvature, undefined, 'no default curvature for adamw');
  // From the catalog: the numeric ones only (biasCorrection is a flag, fixed at start).
  t.same(OPTIMIZER_HYPERPARAMS.sophiaG, ['lr', 'b1', 'b2', 'rho', 'winRateTarget', 'weightDecay']);
  t.ok(OPTIMIZER_HYPERPARAMS.muon.includes('adamLr'), 'every catalog optimizer, Muon included');
  t.throws(
    () =>
      validateDaemonConfig({
        ...base,
        optimizer: { name: 'adamw', lr: 0.01 },
        curvature: { estimator: 'gnb' },
      }),
    /"curvature" adamw uses no curvature estimates/,
  );
  t.throws(
    () =>
      validateDaemonConfig({
        ...base,
        optimizer: { name: 'sophiaH', lr: 0.01 },
        curvature: { estimator: 'gnb' },
      }),
    /"curvature.estimator" sophiaH needs "hutchinson" curvature/,
  );
  t.same(validateDaemonConfig({ ...base, optimizer: { name: 'sophiaH', lr: 0.01 } }).curvature, {
    estimator: 'hutchinson',
    every: 10,
  });
});

t.test(
  'engine: "pipeline" by default (as hessflow train); "pipeline" takes workers and shards',
  async (t) => {
    t.equal(validateDaemonConfig(base).engine, 'pipeline');
    t.equal(validateDaemonConfig({ ...base, engine: 'trainer' }).engine, 'trainer', 'a named engine is kept');
    t.equal(validateDaemonConfig({ ...base, workers: 2 }).workers, 2, 'workers need no engine key');
    const c = validateDaemonConfig({ ...base, engine: 'pipeline', workers: 2, shards: 3 });
    t.equal(c.engine, 'pipeline');
    t.equal(c.workers, 2);
    t.equal(c.shards, 3);
    const bad: [unknown, RegExp][] = [
      [{ ...base, engine: 'gpu' }, /"engine" must be one of "trainer", "pipeline"/],
      [
        { ...base, engine: 'trainer', workers: 2 },
        /"workers" applies to engine "pipeline" only, but engine is "trainer"/,
      ],
      [{ ...base, engine: 'trainer', shards: 2 }, /"shards" applies to engine "pipeline" only/],
      [{ ...base, engine: 'pipeline', shards: 0 }, /"shards" must be an integer in \[1, 1024\]/],
      [{ ...base, engine: 'pipeline', workers: 1.5 }, /"workers" must be an integer in \[1, 1024\]/],
    ];
    for (const [cfg, re] of bad)
      t.throws(() => validateDaemonConfig(cfg), { name: 'DaemonConfigError', message: re });
  },
);
