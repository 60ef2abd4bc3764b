/**
 * The inputs of a reference run of the official Muon (bench/reference/muon_official.py) on the
 * reference char-GPT: for one seed of config/gpt-reference-muon.json, exactly what our Trainer sees.
 *
 *   npx tsx bench/reference/muon-official-export.ts --seed 1 --out DIR [--steps 1000] [--config PATH]
 *
 * (bench/muon-official.ts calls `exportReferenceRun` itself.)
 *
 * DIR receives raw little-endian arrays and a manifest describing them:
 *   theta0.f32         θ at step 0 (our init for the seed), our flat layout
 *   train_x.i32 / train_y.i32   the inputs and targets of every training batch, [steps, batch, block]
 *   eval_x.i32 / eval_y.i32     the fixed held-out batches, [evalSize, batch, block]
 *   lr_factor.f64      lr(step)/peak of our schedule for every step (both groups follow it)
 *   grad0.f32          the gradient of the batch-0 loss at θ0 (with loss0 in the manifest)
 *   theta1.f32 / theta2.f32     θ after one and two of our own Trainer steps (clip and optimizer as configured)
 *   manifest.json      tensors (torch name, shape, offset, role), config, sizes, loss0, our eval loss at θ0
 *                      (and, with trainOurs, our eval loss after the exported steps)
 * The names are mapped to bench/reference/gpt_step.py's module (its blocks use c_attn, c_proj, c_fc,
 * mlp_proj); the Python side builds its param groups from the roles.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readConfig, validateConfig } from '../../src/cli/config.js';
import { learningRateAt, modelSpecOf, setupData, trainerFor } from '../../src/cli/run-setup.js';
import type { Batch } from '../../src/data/batch.js';
import { lossFunction } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { tensorLayoutOf } from '../../src/nn/tensor-layout.js';
import { valueAndGrad } from '../../src/tensor/autodiff.js';
import { setFiniteChecks } from '../../src/tensor/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { evaluate } from '../../src/train/evaluate.js';
import { repoRoot } from '../lib/paths.js';

/** Our nanoGPT names → gpt_step.py's Gpt module's state_dict names. */
export function torchNameOf(name: string): string {
  const m = /^transformer\.h\.(\d+)\.(.+)$/.exec(name);
  if (m) {
    const rest = m[2]
      .replace(/^attn\.c_attn\./, 'c_attn.')
      .replace(/^attn\.c_proj\./, 'c_proj.')
      .replace(/^mlp\.c_fc\./, 'c_fc.')
      .replace(/^mlp\.c_proj\./, 'mlp_proj.');
    return `blocks.${m[1]}.${rest}`;
  }
  return name.replace(/^transformer\./, '');
}

export interface ExportOptions {
  seed: number;
  /** Steps to export (default: the config's); the schedule keeps the config's length. */
  steps?: number;
  /** Default config/gpt-reference-muon.json. */
  configPath?: string;
  /** Also train ours through all `steps` and put its held-out loss there in the manifest (`ourFinal`). */
  trainOurs?: boolean;
}

/** Writes the files of a reference run into `out`; returns the manifest. */
export function exportReferenceRun(out: string, options: ExportOptions): Record<string, unknown> {
  const owner = 'muon-official-export';
  const base = readConfig(options.configPath ?? join(repoRoot(), 'config', 'gpt-reference-muon.json'));
  const { seed } = options;
  const steps = options.steps ?? base.steps;
  if (!Number.isSafeInteger(seed)) throw new Error(`${owner}: seed must be an integer, got ${seed}`);
  if (!Number.isSafeInteger(steps) || steps < 2 || steps > base.steps)
    throw new Error(`${owner}: steps must be an integer in [2, ${base.steps}], got ${steps}`);
  const config = validateConfig({
    ...base,
    seed,
    schedule: base.schedule
      ? { ...base.schedule, decaySteps: base.schedule.decaySteps ?? base.steps }
      : undefined,
  });
  if (config.optimizer.name !== 'muon') throw new Error(`${owner}: the config must use muon`);

  setFiniteChecks(false);
  mkdirSync(out, { recursive: true });
  const data = setupData(config);
  const model = buildModel(modelSpecOf(config, data));
  const trainer = trainerFor({ ...config, steps }, data, model);

  const theta0 = trainer.state().params.slice();
  const train = Array.from({ length: steps }, (_, k) => data.batchAt(k));
  const [y0, g0] = valueAndGrad(
    lossFunction(
      model,
      { data: train[0].inputs, shape: train[0].inputShape },
      train[0].targets as Int32Array,
    ),
  )(new Tensor(theta0, [theta0.length]));
  trainer.step();
  const theta1 = trainer.state().params.slice();
  trainer.step();
  const theta2 = trainer.state().params.slice();
  while (options.trainOurs && !trainer.done()) trainer.step();
  const ourFinal = options.trainOurs
    ? evaluate(model, trainer.state().params, data.evalBatches).loss
    : undefined;

  const write = (name: string, a: Float32Array | Int32Array | Float64Array) =>
    writeFileSync(join(out, name), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  write('theta0.f32', theta0);
  write('theta1.f32', theta1);
  write('theta2.f32', theta2);
  write('grad0.f32', g0.data as Float32Array);
  write('train_x.i32', stack(train, 'inputs'));
  write('train_y.i32', stack(train, 'targets'));
  write('eval_x.i32', stack(data.evalBatches, 'inputs'));
  write('eval_y.i32', stack(data.evalBatches, 'targets'));
  const peak = config.optimizer.lr;
  write(
    'lr_factor.f64',
    Float64Array.from({ length: steps }, (_, k) => learningRateAt(config, k) / peak),
  );
  const manifest = {
    seed,
    steps,
    config,
    model: modelSpecOf(config, data),
    batch: config.batchSize,
    evalBatches: data.evalBatches.length,
    loss0: y0.item(),
    eval0: evaluate(model, theta0, data.evalBatches).loss,
    ...(ourFinal === undefined ? {} : { ourFinal }),
    tensors: tensorLayoutOf(model).map((t) => ({ ...t, torchName: torchNameOf(t.name) })),
  };
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return manifest;
}

/** Every batch's `key` array, one after another. */
function stack(batches: Batch[], key: 'inputs' | 'targets'): Int32Array {
  const len = (batches[0][key] as Int32Array).length;
  const all = new Int32Array(batches.length * len);
  batches.forEach((b, i) => all.set(b[key] as Int32Array, i * len));
  return all;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      out: { type: 'string' },
      steps: { type: 'string' },
      config: { type: 'string' },
    },
  });
  if (values.out === undefined) throw new Error('muon-official-export: --out DIR is required');
  exportReferenceRun(values.out, {
    seed: Number(values.seed ?? 1),
    ...(values.steps !== undefined ? { steps: Number(values.steps) } : {}),
    ...(values.config !== undefined ? { configPath: values.config } : {}),
  });
}
