/**
 * The layout table an engine writes into snapshots, and the weights file it serves (`GET /v1/weights`),
 * both from the model in one place, so the two engines cannot disagree on either.
 */
import type { ParamLayoutEntry } from '../io/param-layout.js';
import { paramsToSafetensors } from '../io/safetensors-params.js';
import type { Model } from '../nn/model.js';

/** A fresh copy of the model's layout entries (name, shape, offset, tags), safe to serialize or keep. */
export function snapshotLayout(model: Model): ParamLayoutEntry[] {
  return model.layout.entries.map((e) => ({
    name: e.name,
    shape: [...e.shape],
    offset: e.offset,
    tags: [...e.tags],
  }));
}

/**
 * θ as safetensors with the step in its metadata, as `hessflow train` writes weights.safetensors: a
 * tied GPT head is written under PyTorch's second name too (src/io/tied-head.ts), so the file loads into
 * the PyTorch model with `load_state_dict(strict=True)`.
 */
export function weightsFile(model: Model, params: Float32Array, step: number): Uint8Array {
  return paramsToSafetensors(params, snapshotLayout(model), { step: String(step) }, { torchTiedHead: true });
}
