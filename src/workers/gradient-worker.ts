/**
 * piscina entry point of a gradient worker: builds the model once from `workerData`, reads θ zero copy
 * from the shared buffer, and returns one shard's loss part and gradient (transferred, not copied).
 */
import { workerData } from 'piscina';
import type { Model } from '../nn/model.js';
import { buildModel } from '../nn/models/registry.js';
import { shardGradient } from '../pipeline/step-math.js';
import { loadModelModule } from './entry-file.js';
import { Errors } from './errors.js';
import { checkFailureHook } from './failure-hook.js';
import { withTransfer } from './transfer.js';
import { type GradientRequest, type GradientResponse, type WorkerInit, serializeError } from './protocol.js';

const init = workerData as WorkerInit;
// User model kinds register themselves when their module is imported; built once, on the first task.
let model: Model | null = null;
async function getModel(): Promise<Model> {
  if (!model) {
    for (const url of init.modelModules ?? []) await loadModelModule(url);
    model = buildModel(init.modelSpec);
  }
  return model;
}
const params = new Float32Array(init.paramsBuffer);
const version = new Int32Array(init.versionBuffer);

export default async function gradientTask(req: GradientRequest): Promise<GradientResponse> {
  if (req.kind !== 'gradient') throw Errors.UnknownTask(req.kind);
  checkFailureHook(init.failOn, req.step, req.attempt, req.shardIndex);
  const base = { shardIndex: req.shardIndex, paramsVersion: req.paramsVersion };
  try {
    const model = await getModel();
    if (model.layout.size !== params.length) throw Errors.LayoutMismatch(model.layout.size, params.length);
    const have = Atomics.load(version, 0);
    if (have !== req.paramsVersion) throw Errors.StaleParams(req.paramsVersion, have);
    const shard = {
      inputs: req.inputs,
      inputShape: req.inputShape,
      targets: req.targets,
      targetShape: req.targetShape,
    };
    const r = shardGradient(model, params, shard, req.totalPredictions);
    const res: GradientResponse = {
      ...base,
      lossSum: r.loss,
      grad: r.grad,
      nonFinite: r.nonFinite,
      error: null,
    };
    return withTransfer(res, [r.grad.buffer]);
  } catch (e) {
    return { ...base, lossSum: NaN, grad: new Float32Array(0), nonFinite: false, error: serializeError(e) };
  }
}
