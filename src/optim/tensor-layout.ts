/**
 * What a matrix-aware transformation knows about the flat parameter vector: where each parameter tensor
 * lives, its shape, and its role. Given to `init` (GradientTransformation.init(params, layout)), so an
 * optimizer such as Muon, SOAP or PSGD can treat a tensor as the matrix it is while the contract stays one
 * flat vector in, one flat vector out. Plain data only (names, numbers, strings), so states built from it
 * still checkpoint as they do today.
 *
 * Roles (as the Muon recipe and its successors divide a network):
 * - `matrix`: a hidden 2-D weight ([out, in], PyTorch's layout) — what Muon/SOAP/PSGD precondition;
 * - `embedding`: a lookup table (token and position embeddings; a tied head is the token embedding);
 * - `head`: the untied output projection (an MLP's last layer, a GPT's `lm_head`);
 * - `vector`: biases, norm gains and anything else that is not a matrix.
 */

export type TensorRole = 'matrix' | 'embedding' | 'head' | 'vector';

export const TENSOR_ROLES: readonly TensorRole[] = ['matrix', 'embedding', 'head', 'vector'];

export interface TensorSlot {
  /** PyTorch state_dict-style name, e.g. `transformer.h.0.mlp.c_fc.weight`. */
  readonly name: string;
  /** First element in the flat vector. */
  readonly offset: number;
  /** Number of elements (the product of `shape`). */
  readonly size: number;
  /** Row-major shape; a `matrix` is [rows, cols] = [out, in]. */
  readonly shape: readonly number[];
  readonly role: TensorRole;
}

/** The parameter tensors in flat-vector order. */
export type TensorLayout = readonly TensorSlot[];

/**
 * Checks that `layout` describes tensors inside a vector of `length` elements without overlap, that each
 * size is the product of its shape and that every `matrix` is 2-D; returns it. Errors name the owner and
 * the tensor.
 */
export function checkTensorLayout(owner: string, layout: unknown, length: number): TensorLayout {
  if (!Array.isArray(layout)) throw new Error(`${owner}: layout must be an array of tensor slots`);
  const spans: Array<[number, number, string]> = [];
  for (let i = 0; i < layout.length; i++) {
    const s = layout[i] as Partial<TensorSlot> | null;
    if (s === null || typeof s !== 'object') throw new Error(`${owner}: layout[${i}] is not an object`);
    const name = typeof s.name === 'string' && s.name !== '' ? s.name : `layout[${i}]`;
    if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new Error(`${owner}: tensor '${name}': shape must be an array of non-negative integers`);
    const size = s.shape.reduce((a, b) => a * b, 1);
    if (s.size !== size)
      throw new Error(`${owner}: tensor '${name}': size ${String(s.size)} is not the product of its shape`);
    if (!Number.isSafeInteger(s.offset) || (s.offset as number) < 0)
      throw new Error(`${owner}: tensor '${name}': offset must be a non-negative integer`);
    if (!TENSOR_ROLES.includes(s.role as TensorRole))
      throw new Error(
        `${owner}: tensor '${name}': role must be one of ${TENSOR_ROLES.join(', ')}, got ${String(s.role)}`,
      );
    if (s.role === 'matrix' && s.shape.length !== 2)
      throw new Error(`${owner}: tensor '${name}': a matrix must be 2-D, got shape [${s.shape.join(', ')}]`);
    const end = (s.offset as number) + size;
    if (end > length)
      throw new Error(
        `${owner}: tensor '${name}' spans [${s.offset}, ${end}) but the parameter vector has ${length} elements`,
      );
    spans.push([s.offset as number, end, name]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1] && spans[i][1] > spans[i][0])
      throw new Error(`${owner}: tensors '${spans[i - 1][2]}' and '${spans[i][2]}' overlap`);
  }
  return layout as TensorLayout;
}

/**
 * For transformations that cannot work without tensor shapes: the checked layout, or an error that says
 * the optimizer needs one (a setup that only has the flat vector must not silently fall back).
 */
export function requireTensorLayout(
  owner: string,
  layout: TensorLayout | undefined,
  length: number,
): TensorLayout {
  if (layout === undefined)
    throw new Error(
      `${owner} needs the parameter layout (each tensor's shape and role) at init: call init(params, layout), ` +
        `e.g. with tensorLayoutOf(model) from the model; a bare flat vector is not enough`,
    );
  return checkTensorLayout(owner, layout, length);
}

/** Each element's tensor role as a coordinate mask: 1 where `pick(slot)` holds. */
export function roleMask(
  layout: TensorLayout,
  length: number,
  pick: (slot: TensorSlot) => boolean,
): Uint8Array {
  const m = new Uint8Array(length);
  for (const s of layout) if (pick(s)) m.fill(1, s.offset, s.offset + s.size);
  return m;
}

/**
 * `values` restricted to the tensors where `pick(slot)` holds, concatenated in offset order: what a
 * partition group (partition.ts) sees of a per-coordinate vector such as a weight-decay mask.
 */
export function restrictToSlots(
  layout: TensorLayout,
  values: Uint8Array,
  pick: (slot: TensorSlot) => boolean,
): Uint8Array {
  const slots = [...layout].filter(pick).sort((a, b) => a.offset - b.offset);
  const out = new Uint8Array(slots.reduce((n, s) => n + s.size, 0));
  let at = 0;
  for (const s of slots) {
    out.set(values.subarray(s.offset, s.offset + s.size), at);
    at += s.size;
  }
  return out;
}
