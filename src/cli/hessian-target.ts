/**
 * What `hessflow hessian` analyses: the checkpoint named by --checkpoint (a run directory or a .hfckpt
 * file), its config (from the checkpoint's meta, else the run directory's config.json), the model
 * rebuilt with the checkpoint's parameters, and the HVP operator of the mean loss over the config's
 * first `batches` training batches. Also the preconditioner an adaptive optimizer's saved state gives.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Preconditioner, optimizerEntry } from '../catalog/index.js';
import { type HvpFn, batchedHvpOperator } from '../diagnostics/index.js';
import { CheckpointError } from '../io/checkpoint-codec.js';
import { loadCheckpoint } from '../io/checkpoint-file.js';
import { type Model, type ModelSpec, lossFunction } from '../nn/model.js';
import { buildModel } from '../nn/models/registry.js';
import { RUN_FILES } from '../report/run-dir.js';
import { Tensor } from '../tensor/tensor.js';
import { type RunConfig, validateConfig } from './config.js';
import { UsageError } from './errors.js';
import { modelSpecOf, setupData } from './run-setup.js';

/**
 * The diagonal preconditioner of an adaptive optimizer from its saved state (its catalog entry reads it),
 * or a sentence saying why there is none.
 */
export function preconditionerOf(
  config: RunConfig,
  state: unknown,
  predictionsPerBatch: number,
): Preconditioner | string {
  const o = config.optimizer;
  const num = (k: string, d: number) => (typeof o[k] === 'number' ? (o[k] as number) : d);
  return optimizerEntry(o.name).preconditioner({ state, num, predictionsPerBatch });
}

function checkpointPath(arg: string): { file: string; runDir: string } {
  const p = resolve(arg);
  if (!existsSync(p)) throw new UsageError(`--checkpoint: ${arg} does not exist`);
  if (statSync(p).isDirectory()) {
    const file = join(p, RUN_FILES.checkpoint);
    if (!existsSync(file)) throw new UsageError(`--checkpoint: ${arg} holds no ${RUN_FILES.checkpoint}`);
    return { file, runDir: p };
  }
  return { file: p, runDir: dirname(p) };
}

export interface HessianTarget {
  file: string;
  runDir: string;
  ckpt: Awaited<ReturnType<typeof loadCheckpoint>>;
  config: RunConfig;
  data: ReturnType<typeof setupData>;
  model: Model;
  params: Float32Array;
  hvp: HvpFn;
}

export async function loadHessianTarget(checkpoint: string, batches: number): Promise<HessianTarget> {
  const { file, runDir } = checkpointPath(checkpoint);
  let ckpt;
  try {
    ckpt = await loadCheckpoint(file);
  } catch (e) {
    if (e instanceof CheckpointError) throw new UsageError(`--checkpoint: ${e.message}`);
    throw e;
  }
  let rawConfig = ckpt.meta.config;
  const configFile = join(runDir, RUN_FILES.config);
  if (rawConfig === undefined && existsSync(configFile))
    rawConfig = JSON.parse(readFileSync(configFile, 'utf8'));
  if (rawConfig === undefined)
    throw new UsageError(`--checkpoint: ${file} carries no config and ${configFile} does not exist`);
  const config = validateConfig(rawConfig, `config of ${file}`);
  const data = setupData(config);
  const spec = (ckpt.meta.model as ModelSpec | undefined) ?? modelSpecOf(config, data);
  const model: Model = buildModel(spec);
  const n = model.layout.size;
  if (ckpt.params.length !== n)
    throw new UsageError(`--checkpoint: ${ckpt.params.length} parameters, the config's model has ${n}`);
  const params = ckpt.params;
  const flat = new Tensor(params, [n]);
  const losses = Array.from({ length: batches }, (_, k) => {
    const b = data.batchAt(k);
    return lossFunction(model, { data: b.inputs, shape: b.inputShape }, b.targets as Int32Array);
  });
  const hvp = batchedHvpOperator(losses, flat);
  return { file, runDir, ckpt, config, data, model, params, hvp };
}
