/** The run-config validation in-process: the shipped configs pass, every bad value names its key. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { validateConfig } from '../../src/cli/config.js';
import { ConfigError } from '../../src/cli/errors.js';
import { configFor, parseOptimizerList, smooth } from '../../src/cli/commands/compare.js';
import { preconditionerOf } from '../../src/cli/commands/hessian.js';

const read = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../config/${name}`, import.meta.url)), 'utf8'));
const quickstart = read('quickstart.json');

t.test('the shipped configs are valid', async (t) => {
  const q = validateConfig(quickstart, 'quickstart.json');
  t.equal(q.data, undefined, 'no data key: MNIST by default');
  t.equal(q.optimizer.name, 'sophiaG');
  const g = validateConfig(read('char-gpt.json'), 'char-gpt.json');
  t.equal(g.model.kind, 'gpt');
  t.equal(g.data?.name, 'moby-dick');
});

t.test('bad values name their key', async (t) => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ ...quickstart, stepz: 3 }, 'stepz', /unknown key/],
    [{ ...quickstart, steps: 0 }, 'steps', />= 1/],
    [{ ...quickstart, steps: 2.5 }, 'steps', /integer/],
    [{ ...quickstart, seed: 'one' }, 'seed', /finite number/],
    [{ ...quickstart, optimizer: { name: 'adam', lr: 1 } }, 'optimizer.name', /one of/],
    [{ ...quickstart, optimizer: { name: 'adamw', lr: 1e-3, rho: 1 } }, 'optimizer.rho', /unknown key/],
    [{ ...quickstart, optimizer: { name: 'adamw', lr: 1e-3, b1: 1 } }, 'optimizer.b1', /\[0, 1\)/],
    [{ ...quickstart, curvature: { estimator: 'exact' } }, 'curvature.estimator', /one of/],
    [{ ...quickstart, curvature: undefined }, 'curvature', /needs a curvature/],
    [{ ...quickstart, model: { kind: 'mlp', sizes: [784, 10, 3] } }, 'model.sizes[2]', /must be 10/],
    [{ ...quickstart, data: { name: 'cifar' } }, 'data.name', /one of/],
    [{ ...quickstart, schedule: { warmupSteps: 10, decaySteps: 5 } }, 'schedule.decaySteps', /greater/],
    [{ ...quickstart, clip: -1 }, 'clip', /> 0/],
    [{ ...quickstart, generate: {} }, 'generate', /gpt/],
  ];
  for (const [raw, key, detail] of cases) {
    try {
      validateConfig(raw, 'c.json');
      t.fail(`${key} accepted`);
    } catch (e) {
      t.ok(e instanceof ConfigError, `${key}: a ConfigError`);
      t.equal((e as ConfigError).key, key);
      t.match((e as Error).message, detail, `${key}: ${(e as Error).message}`);
    }
  }
});

t.test('compare: optimizer lists, per-optimizer configs, smoothing', async (t) => {
  t.same(parseOptimizerList('adamw, Sophia-G,sophiah'), ['adamw', 'sophia-g', 'sophia-h']);
  t.throws(() => parseOptimizerList('adamw,adamw'), /twice/);
  t.throws(() => parseOptimizerList('newton'), /unknown optimizer/);
  const base = validateConfig(quickstart);
  const a = configFor(base, 'adahessian', 7);
  t.equal(a.steps, 7);
  t.equal(a.evalEvery, 7);
  t.same(a.curvature, { estimator: 'hutchinson', every: 1, first: 0 });
  const g = configFor(base, 'sophia-g', 7);
  t.same(g.optimizer, base.optimizer, 'the base config keeps its own hyperparameters');
  t.equal(configFor(base, 'adamw', 7).curvature, undefined);
  t.same(smooth([1, 1, 1]), [1, 1, 1], 'bias-corrected');
  const s = smooth([2, NaN, 0]);
  t.equal(s[1], 2);
  t.ok(s[2] < 2 && s[2] > 0);
});

t.test('hessian: preconditioners from saved optimizer states', async (t) => {
  const base = validateConfig(quickstart);
  const h = Float32Array.from([0, 1, 2]);
  const m = Float32Array.from([0.5, 0, 0]);
  const state = [{ count: 3, m, h, stats: {} }, {}, {}];
  const p = preconditionerOf(base, state, 10);
  if (typeof p === 'string') return t.fail(p);
  // max(ρ·bs·h, |m|) with ρ·bs = 0.4.
  t.ok(
    Math.abs(p.diag[0] - 0.5) < 1e-12 && Math.abs(p.diag[1] - 0.4) < 1e-6 && Math.abs(p.diag[2] - 0.8) < 1e-6,
    `P = max(ρ·bs·h, |m|): ${Array.from(p.diag).join(', ')}`,
  );
  t.equal(p.beta1, 0.965);
  t.match(preconditionerOf(base, [{}], 10) as string, /no Sophia state/);
  const lionConfig = validateConfig({
    ...quickstart,
    optimizer: { name: 'lion', lr: 1e-4 },
    curvature: undefined,
  });
  t.match(preconditionerOf(lionConfig, [], 10) as string, /sign/);
});
