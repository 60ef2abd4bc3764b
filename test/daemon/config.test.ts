import t from 'tap';
import { validateDaemonConfig } from '../../src/daemon/config.js';
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
