/** The layout table an engine writes into snapshots and weights, copied from the model in one place. */
import type { ParamLayoutEntry } from '../io/param-layout.js';
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
