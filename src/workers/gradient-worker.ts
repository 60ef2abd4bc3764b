/**
 * piscina entry point of a gradient worker: builds the model once from `workerData`, reads θ zero copy
 * from the shared buffer and its shard through views of the shard slot, writes the shard's gradient into
 * the slot's result part and answers with a msgpack head (loss part, flags, error): nothing large
 * crosses by postMessage in either direction.
 */
import { workerData } from 'piscina';
import type { Model } from '../nn/model.js';
import { buildModel } from '../nn/models/registry.js';
import { shardGradient } from '../pipeline/step-math.js';
import { loadModelModule } from './entry-file.js';
import { Errors } from './errors.js';
import { checkFailureHook } from './failure-hook.js';
import {
  type GradientHead,
  type GradientReplyHead,
  type GradientWire,
  type WorkerInit,
  decodeHead,
  encodeHead,
  serializeError,
} from './protocol.js';
import { readSlot, writeResult } from './shard-slots.js';

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

/** The reply head (a Uint8Array); the gradient is already in the result slot. */
export default async function gradientTask(wire: GradientWire): Promise<Uint8Array> {
  const req = decodeHead<GradientHead>(wire.head);
  if (req.kind !== 'gradient') throw Errors.UnknownTask(req.kind);
  checkFailureHook(init.failOn, req.step, req.attempt, req.shardIndex);
  const base = { shardIndex: req.shardIndex, paramsVersion: req.paramsVersion };
  let head: GradientReplyHead;
  try {
    const model = await getModel();
    if (model.layout.size !== params.length) throw Errors.LayoutMismatch(model.layout.size, params.length);
    const have = Atomics.load(version, 0);
    if (have !== req.paramsVersion) throw Errors.StaleParams(req.paramsVersion, have);
    const { inputs, targets } = readSlot(wire.slot, req);
    const shard = { inputs, inputShape: req.inputShape, targets, targetShape: req.targetShape };
    const r = shardGradient(model, params, shard, req.totalPredictions);
    if (!writeResult(wire.result, r.grad))
      throw Errors.BadResponse(`a gradient of ${r.grad.length} values does not fit the result slot`);
    head = { ...base, lossSum: r.loss, nonFinite: r.nonFinite, gradLength: r.grad.length, error: null };
  } catch (e) {
    head = { ...base, lossSum: NaN, nonFinite: false, gradLength: 0, error: serializeError(e) };
  }
  return encodeHead(head);
}
