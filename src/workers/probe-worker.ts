/**
 * piscina entry point of the probe worker: one curvature estimate (GNB or Hutchinson) on the private
 * θ snapshot it was sent and the whole batch, exactly `estimateCurvature` of the synchronous loop.
 */
import { workerData } from 'piscina';
import type { Model } from '../nn/model.js';
import { buildModel } from '../nn/models/registry.js';
import { NonFiniteError } from '../tensor/errors.js';
import { estimateCurvature, resolveCurvature } from '../train/curvature-schedule.js';
import { loadModelModule } from './entry-file.js';
import { Errors } from './errors.js';
import { checkFailureHook } from './failure-hook.js';
import { type ProbeRequest, type ProbeResponse, type WorkerInit, serializeError } from './protocol.js';
import { withTransfer } from './transfer.js';

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

export default async function probeTask(req: ProbeRequest): Promise<ProbeResponse> {
  if (req.kind !== 'probe') throw Errors.UnknownTask(req.kind);
  checkFailureHook(init.failOn, req.step, req.attempt);
  const empty = new Float32Array(0);
  try {
    const model = await getModel();
    if (req.params.length !== model.layout.size)
      throw Errors.LayoutMismatch(model.layout.size, req.params.length);
    const c = resolveCurvature({ estimator: req.estimator, probes: req.probes, every: 1, first: 0 });
    const batch = {
      inputs: req.inputs,
      inputShape: req.inputShape,
      targets: req.targets,
      targetShape: req.targetShape,
    };
    const e = estimateCurvature(c, model, req.params, batch, req.seed, req.step);
    const res: ProbeResponse = { step: req.step, diag: e.diag, nonFinite: false, error: null };
    if (e.grad && e.loss !== undefined) {
      res.loss = e.loss;
      res.grad = e.grad;
    }
    return withTransfer(res, [e.diag.buffer, ...(e.grad ? [e.grad.buffer] : [])]);
  } catch (e) {
    if (e instanceof NonFiniteError) return { step: req.step, diag: empty, nonFinite: true, error: null };
    return { step: req.step, diag: empty, nonFinite: false, error: serializeError(e) };
  }
}
