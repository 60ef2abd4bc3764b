/**
 * piscina entry point of a gradient worker: builds the model once from `workerData`, reads θ zero copy
 * from the shared buffer and its shard through views of the shard slot, writes the shard's gradient into
 * the slot's result part and answers with a msgpack head (loss part, flags, error): nothing large
 * crosses by postMessage in either direction.
 */
import { shardGradient } from '../step/shards.js';
import { Errors } from './errors.js';
import { checkFailureHook } from './failure-hook.js';
import {
  type GradientHead,
  type GradientReplyHead,
  type GradientWire,
  decodeHead,
  encodeHead,
  serializeError,
} from './protocol.js';
import { readSlot, writeResult } from './shard-slots.js';
import { getWorkerModel, workerInit } from './worker-context.js';

const params = new Float32Array(workerInit.paramsBuffer);
const version = new Int32Array(workerInit.versionBuffer);

/** The reply head (a Uint8Array); the gradient is already in the result slot. */
export default async function gradientTask(wire: GradientWire): Promise<Uint8Array> {
  const req = decodeHead<GradientHead>(wire.head);
  if (req.kind !== 'gradient') throw Errors.UnknownTask(req.kind);
  checkFailureHook(workerInit.failOn, req.step, req.attempt, req.shardIndex);
  const base = { shardIndex: req.shardIndex, paramsVersion: req.paramsVersion };
  let head: GradientReplyHead;
  try {
    const model = await getWorkerModel();
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
