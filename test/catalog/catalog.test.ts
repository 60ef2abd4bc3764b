/**
 * The optimizer catalog: every entry's presets are valid run configs for their model kind and build an
 * optimizer that takes a finite step on that model; names resolve; the config's curvature rules and
 * `compare`'s presets come from the entries.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { OPTIMIZERS, optimizerByCliName, optimizerEntry } from '../../src/catalog/index.js';
import { configFor, parseLrOverrides } from '../../src/cli/commands/compare.js';
import { describeOptimizer, describeOptimizers } from '../../src/cli/commands/optimizers.js';
import { validateConfig } from '../../src/cli/config.js';
import { buildOptimizer } from '../../src/cli/run-setup.js';
import { initialParams } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { tensorLayoutOf } from '../../src/nn/tensor-layout.js';
import { estimateExtra } from '../../src/step/curvature-schedule.js';

const read = (f: string) => JSON.parse(readFileSync(new URL(`../../config/${f}`, import.meta.url), 'utf8'));
const quickstart = read('quickstart.json');
const charGpt = { ...read('char-gpt.json'), model: { ...read('char-gpt.json').model, vocabSize: 30 } };
const bases = { mlp: quickstart, gpt: charGpt } as const;

for (const entry of OPTIMIZERS) {
  for (const kind of ['mlp', 'gpt'] as const) {
    t.test(`${entry.name}: the ${kind} preset is a valid config and takes a finite step`, async (t) => {
      const preset = entry.presets[kind];
      t.equal(preset.optimizer.name, entry.name);
      // No warmup: the first step's learning rate is the preset's.
      const config = validateConfig({
        ...bases[kind],
        schedule: undefined,
        optimizer: preset.optimizer,
        curvature: preset.curvature,
      });
      // A small model of the kind: the step's arithmetic, not the size, is under test.
      const spec =
        kind === 'mlp'
          ? { kind: 'mlp' as const, sizes: [6, 5, 3] }
          : { kind: 'gpt' as const, vocabSize: 7, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 4 };
      const model = buildModel(spec);
      const opt = buildOptimizer(config, model);
      const params = initialParams(model, 1) as Float32Array;
      const state = opt.init(params, tensorLayoutOf(model));
      const grads = Float32Array.from(params, (_, i) => Math.sin(i + 1) * 0.1);
      const extra = {
        batchSize: 8,
        // What the preset's estimator delivers, as the loops hand it on (estimateExtra).
        ...estimateExtra(
          preset.curvature
            ? {
                diag: Float32Array.from(grads, (g) =>
                  preset.curvature!.estimator === 'gnb-gradient' ? g : g * g + 1e-3,
                ),
                ...(preset.curvature.estimator === 'hvp-pair'
                  ? { pair: { v: grads, hv: Float32Array.from(grads, (g) => 2 * g) } }
                  : {}),
                launchedAt: 0,
              }
            : null,
          preset.curvature?.estimator,
        ),
      };
      // Two steps: SOAP, as soap.py, only builds its eigenbases on the first.
      const [, next] = opt.update(grads, state, params, extra);
      const [u] = opt.update(grads, next, params, extra);
      t.equal(u.length, params.length);
      t.ok(
        u.every((x) => Number.isFinite(x)),
        'finite update',
      );
      t.ok(
        u.some((x) => x !== 0),
        'the step moves something',
      );
    });
  }
}

t.test('names: config names, CLI names and aliases resolve to one entry', async (t) => {
  t.equal(optimizerEntry('sophiaG').cliName, 'sophia-g');
  t.equal(optimizerByCliName('Sophia_G')?.name, 'sophiaG');
  t.equal(optimizerByCliName('sophiaG')?.name, 'sophiaG');
  t.equal(optimizerByCliName('M-FAC')?.name, 'mfac');
  t.equal(optimizerByCliName('newton'), undefined);
  t.throws(() => optimizerEntry('newton'), /unknown optimizer "newton"; known: sgd, adamw/);
  const names = OPTIMIZERS.flatMap((e) => [e.cliName, ...(e.aliases ?? [])]);
  t.equal(new Set(names).size, names.length, 'no name is used twice');
});

t.test('config: curvature rules come from the entries', async (t) => {
  const bad = (o: unknown, cv: unknown) => () =>
    validateConfig({ ...quickstart, optimizer: o, curvature: cv });
  t.throws(
    bad({ name: 'adamw', lr: 1e-3 }, { estimator: 'gnb', every: 10 }),
    /adamw uses no curvature estimates/,
  );
  t.throws(bad({ name: 'sophiaH', lr: 1e-3 }, { estimator: 'gnb' }), /sophiaH needs "hutchinson" curvature/);
  t.throws(bad({ name: 'sophiaG', lr: 1e-3 }, undefined), /sophiaG needs a curvature schedule/);
  t.throws(
    bad({ name: 'adahessian', lr: 1e-3 }, { estimator: 'hutchinson', first: 3 }),
    /curvature.first: adahessian needs an estimate on the first step/,
  );
  t.throws(bad({ name: 'mfac', lr: 1e-3, m: 0 }, undefined), /optimizer.m: must be >= 1/);
  t.throws(bad({ name: 'mfac', lr: 1e-3, window: 3 }, undefined), /optimizer.window: unknown key/);
  t.equal(
    validateConfig({ ...quickstart, optimizer: { name: 'mfac', lr: 1e-3, m: 4 }, curvature: undefined })
      .optimizer.name,
    'mfac',
  );
});

t.test("compare: presets follow the base config's model kind; --lr overrides", async (t) => {
  const gptBase = validateConfig(charGpt);
  const s = configFor(gptBase, 'sophia-g', 10);
  t.same(
    s.optimizer,
    optimizerEntry('sophiaG').presets.gpt.optimizer,
    'the char-GPT preset, not the MLP one',
  );
  t.same(s.curvature, { estimator: 'gnb', every: 10, first: 0 });
  const mlpBase = validateConfig(quickstart);
  t.equal(configFor(mlpBase, 'adamw', 10).optimizer.lr, 1e-3);
  t.equal(configFor(mlpBase, 'adamw', 10, 3e-3).optimizer.lr, 3e-3);
  t.same(parseLrOverrides('adamw=3e-3, Sophia-G=0.01'), { adamw: 3e-3, 'sophia-g': 0.01 });
  t.same(parseLrOverrides('lion=1e-4', { adamw: 1 }), { adamw: 1, lion: 1e-4 });
  t.throws(() => parseLrOverrides('adamw'), /not optimizer=value/);
  t.throws(() => parseLrOverrides('newton=1'), /unknown optimizer "newton"/);
  t.throws(() => parseLrOverrides('adamw=-1'), /learning rate of adamw must be a positive number, got "-1"/);
  t.throws(() => parseLrOverrides('adamw=abc'), /got "abc"/);
});

t.test('hessflow optimizers: the list and one entry with its hyperparameters and presets', async (t) => {
  const list = describeOptimizers();
  for (const e of OPTIMIZERS) t.match(list, e.name);
  t.match(
    list,
    /sophiaG\s+Sophia with the Gauss-Newton-Bartlett diagonal[^\n]*\n\s+\(needs "gnb" curvature\)/,
  );
  const one = describeOptimizer('Sophia-G');
  t.match(one, /winRateTarget: each tensor's ρ/);
  t.match(one, /gpt: \{"name":"sophiaG","lr":0\.012/);
  t.throws(() => describeOptimizer('newton'), /unknown optimizer "newton"/);
});
