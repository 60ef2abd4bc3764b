/**
 * A model's parameter tensors as the matrix-aware optimizers see them (optim/tensor-layout.ts): each
 * tensor's place, shape and role. Roles come from what the model declares: its `embedding` tags, its
 * `head`, and 2-D `weight` tensors (hidden matrices); everything else is a vector.
 */
import type { TensorLayout, TensorRole } from '../optim/tensor-layout.js';
import type { Model } from './model.js';
import type { ParamEntry } from './param-layout.js';

function roleOf(entry: ParamEntry, head: string | undefined): TensorRole {
  if (entry.tags.includes('embedding')) return 'embedding';
  if (entry.name === head) return 'head';
  if (entry.shape.length === 2 && entry.tags.includes('weight')) return 'matrix';
  return 'vector';
}

export function tensorLayoutOf(model: Pick<Model, 'layout' | 'head'>): TensorLayout {
  return model.layout.entries.map((e) => ({
    name: e.name,
    offset: e.offset,
    size: e.size,
    shape: [...e.shape],
    role: roleOf(e, model.head),
  }));
}
