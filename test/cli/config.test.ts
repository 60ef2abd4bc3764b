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
const sophiaMnist = read('mnist-sophiag.json');

t.test('the shipped configs are valid', async (t) => {
  const q = validateConfig(sophiaMnist, 'mnist-sophiag.json');
  t.equal(q.data, undefined, 'no data key: MNIST by default');
  t.equal(q.optimizer.name, 'sophiaG');
  const d = validateConfig(read('quickstart.json'), 'quickstart.json');
  t.equal(d.optimizer.name, 'soap', 'the default job: SOAP, which measured best on MNIST');
  t.equal(d.curvature, undefined);
  const g = validateConfig(read('char-gpt.json'), 'char-gpt.json');
  t.equal(g.model.kind, 'gpt');
  t.equal(g.data?.name, 'moby-dick');
});

t.test('bad values name their key', async (t) => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ ...sophiaMnist, stepz: 3 }, 'stepz', /unknown key/],
    [{ ...sophiaMnist, steps: 0 }, 'steps', />= 1/],
    [{ ...sophiaMnist, steps: 2.5 }, 'steps', /integer/],
    [{ ...sophiaMnist, seed: 'one' }, 'seed', /finite number/],
    [{ ...sophiaMnist, optimizer: { name: 'adam', lr: 1 } }, 'optimizer.name', /one of/],
    [{ ...sophiaMnist, optimizer: { name: 'adamw', lr: 1e-3, rho: 1 } }, 'optimizer.rho', /unknown key/],
    [{ ...sophiaMnist, optimizer: { name: 'adamw', lr: 1e-3, b1: 1 } }, 'optimizer.b1', /\[0, 1\)/],
    [
      { ...sophiaMnist, curvature: { estimator: 'exact' } },
      'curvature.estimator',
      /must be one of "gnb", "hutchinson", "hvp-pair"/,
    ],
    [{ ...sophiaMnist, curvature: undefined }, 'curvature', /needs a curvature/],
    [{ ...sophiaMnist, model: { kind: 'mlp', sizes: [784, 10, 3] } }, 'model.sizes[2]', /must be 10/],
    [
      { ...sophiaMnist, data: { name: 'cifar' } },
      'data.name',
      /must be one of "mnist", "moby-dick", "csv", "jsonl", "text"/,
    ],
    [{ ...sophiaMnist, data: { name: 'csv', target: 'y' } }, 'data.path', /a file path/],
    [
      { ...sophiaMnist, data: { name: 'csv', path: 'a.csv', target: 'y', evalFraction: 1 } },
      'data.evalFraction',
      /a number in \(0, 1\)/,
    ],
    [
      { ...sophiaMnist, data: { name: 'jsonl', path: 'a.jsonl', target: 'y', badRows: 'ignore' } },
      'data.badRows',
      /"error" or "skip"/,
    ],
    [
      { ...sophiaMnist, data: { name: 'text', path: 'a.txt' } },
      'model.kind',
      /data "text" needs a "gpt" model/,
    ],
    [{ ...sophiaMnist, earlyStopping: { patience: 0 } }, 'earlyStopping.patience', />= 1/],
    [{ ...sophiaMnist, schedule: { warmupSteps: 10, decaySteps: 5 } }, 'schedule.decaySteps', /greater/],
    [{ ...sophiaMnist, clip: -1 }, 'clip', /> 0/],
    [{ ...sophiaMnist, generate: {} }, 'generate', /gpt/],
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

const rejects = (raw: unknown): ConfigError => {
  try {
    validateConfig(raw, 'c.json');
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('accepted');
};

t.test('unknown keys at depth, wrong types and impossible values', async (t) => {
  const gpt = read('char-gpt.json') as { model: object; optimizer: object };
  const cases: [unknown, string, string][] = [
    [
      { ...sophiaMnist, model: { kind: 'mlp', sizes: [784, 10], activaton: 'relu' } },
      'model.activaton',
      'unknown key; allowed in model: kind, sizes, activation',
    ],
    [
      { ...gpt, generate: { prompt: 'Call', tokns: 3 } },
      'generate.tokns',
      'unknown key; allowed in generate: prompt, tokens, temperature, topK, lines',
    ],
    [
      { ...sophiaMnist, model: { kind: 'mlp', sizes: [784, 'wide', 10] } },
      'model.sizes[1]',
      'must be a finite number, got the string "wide"',
    ],
    [
      { ...sophiaMnist, model: { kind: 'mlp', sizes: 784 } },
      'model.sizes',
      'must be an array of at least 2 layer widths, got number 784',
    ],
    [
      { ...sophiaMnist, model: { kind: 'cnn' } },
      'model.kind',
      'must be "mlp" or "gpt", got the string "cnn"',
    ],
    [
      { ...sophiaMnist, optimizer: { name: 'sgd', lr: 0.1, nesterov: 'yes' } },
      'optimizer.nesterov',
      'must be a boolean, got the string "yes"',
    ],
    [
      { ...sophiaMnist, optimizer: { name: 'adamw' } },
      'optimizer.lr',
      'must be a finite number, got nothing',
    ],
    ['{}', '(top level)', 'must be an object, got the string "{}"'],
    [
      { ...sophiaMnist, optimizer: { name: 'adamw', lr: 1e-3, b2: 1.5 } },
      'optimizer.b2',
      'must be a number in [0, 1), got 1.5',
    ],
    [
      { ...gpt, model: { ...gpt.model, nHead: 3 } },
      'model.nEmbd',
      'must be divisible by model.nHead (3), got 64',
    ],
    [
      { ...gpt, model: { kind: 'mlp', sizes: [784, 10] } },
      'model.kind',
      'data "moby-dick" needs a "gpt" model, got "mlp"',
    ],
    [
      {
        ...sophiaMnist,
        optimizer: { name: 'adahessian', lr: 0.1 },
        curvature: { estimator: 'hutchinson', staleness: 2 },
      },
      'curvature.staleness',
      'adahessian needs staleness 0, got 2',
    ],
    [
      { ...sophiaMnist, diagnostics: { every: 5, trace: false, topEigenvalue: false } },
      'diagnostics',
      'topEigenvalue and trace are both false: nothing to compute',
    ],
  ];
  for (const [raw, key, detail] of cases) {
    const e = rejects(raw);
    t.equal(e.key, key);
    t.equal(e.message, `c.json: ${key}: ${detail}`);
    t.equal(e.exitCode, 2);
  }
});

t.test('several problems are reported at once, one line each', async (t) => {
  const e = rejects({
    ...sophiaMnist,
    stepz: 3,
    optimizer: { name: 'sophiaG', lr: -1, rho: 0.04 },
    curvature: { estimator: 'gnb', every: 0 },
    batchSize: 12.5,
    schedule: { warmupSteps: 10, decaySteps: 5 },
  });
  t.equal(e.key, 'optimizer.lr', 'the first problem, in the order of the schema');
  t.equal(
    e.message,
    [
      'c.json: optimizer.lr: must be > 0, got -1',
      'c.json: curvature.every: must be >= 1, got 0',
      'c.json: batchSize: must be an integer, got number 12.5',
      'c.json: schedule.decaySteps: must be greater than schedule.warmupSteps (10), got 5',
      'c.json: stepz: unknown key; allowed: name, model, optimizer, curvature, data, batchSize, steps, evalEvery, seed, schedule, clip, generate, diagnostics, gpu, earlyStopping',
    ].join('\n'),
  );
  // A cross-field rule is checked as soon as the keys it reads are valid, even when others are not.
  const both = rejects({ ...sophiaMnist, curvature: undefined, seed: -1 });
  t.equal(
    both.message,
    'c.json: seed: must be >= 0, got -1\nc.json: curvature: sophiaG needs a curvature schedule, e.g. {"estimator": "gnb", "every": 10}',
  );
});

t.test('compare: optimizer lists, per-optimizer configs, smoothing', async (t) => {
  t.same(parseOptimizerList('adamw, Sophia-G,sophiah'), ['adamw', 'sophia-g', 'sophia-h']);
  t.throws(() => parseOptimizerList('adamw,adamw'), /twice/);
  t.throws(() => parseOptimizerList('newton'), /unknown optimizer/);
  const base = validateConfig(sophiaMnist);
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
  const base = validateConfig(sophiaMnist);
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
    ...sophiaMnist,
    optimizer: { name: 'lion', lr: 1e-4 },
    curvature: undefined,
  });
  t.match(preconditionerOf(lionConfig, [], 10) as string, /sign/);
});
