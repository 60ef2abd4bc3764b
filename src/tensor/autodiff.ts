/**
 * Reverse-mode differentiation over the recorded graph, with double backward: with
 * `createGraph: true` the backward pass records its own ops (every VJP is made of differentiable ops),
 * so gradients can be differentiated again. That is how `hvp` gets exact Hessian-vector products,
 * as PyTorch does with `create_graph=True`.
 */
import { DTypeError, ShapeError, describeShape } from './errors.js';
import { withGradMode } from './graph.js';
import { add, mul } from './ops/elementwise.js';
import { assembleSlices, reshape } from './ops/layout.js';
import { sum } from './ops/reduce.js';
import { kernel } from '../kernels/registry.js';
import { type FloatArray, Tensor, arrayFor, full, zeros } from './tensor.js';

export interface GradientsOptions {
  /** Record the backward pass so the returned gradients can be differentiated again. */
  createGraph?: boolean;
  /** The gradient of the output to start from; defaults to 1 for a one-element output. */
  seed?: Tensor;
}

/** Tensors in the graph of `root`, inputs before the tensors computed from them (iterative DFS). */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const next = inputs[i];
      if (next.requiresGrad && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order;
}

/**
 * Gradients of `y` with respect to each of `xs` (like torch.autograd.grad). A tensor of `xs` that `y`
 * does not depend on gets zeros. Only paths that lead to some x are differentiated.
 */
export function gradients(y: Tensor, xs: readonly Tensor[], options: GradientsOptions = {}): Tensor[] {
  const seed = options.seed ?? full(y.shape, 1, y.dtype);
  if (!options.seed && y.size !== 1) {
    throw new ShapeError(
      'gradients',
      `output has shape ${describeShape(y.shape)}; pass a seed for non-scalar outputs`,
    );
  }
  if (seed.size !== y.size)
    throw new ShapeError(
      'gradients',
      `seed ${describeShape(seed.shape)} does not match output ${describeShape(y.shape)}`,
    );
  const order = topologicalOrder(y);
  // A tensor is relevant when some x is reachable from it: only those gradients are computed.
  const targets = new Set(xs);
  const relevant = new Set<Tensor>();
  for (const t of order) {
    if (targets.has(t) || t.node?.inputs.some((i) => relevant.has(i))) relevant.add(t);
  }
  const buildGraph = options.createGraph ?? false;
  const grads = new Map<Tensor, Tensor>();
  // Tensors whose gradient buffer was allocated here for them alone: safe to update in place when no
  // graph is being built. (A VJP may pass g itself, or views of it, to several inputs; those buffers
  // are shared and must never be mutated, so the first in-place update of such a gradient copies it.)
  const owned = new Set<Tensor>();
  // The element ranges [start, end) of an owned gradient written so far; the rest still holds zeros.
  const written = new Map<Tensor, number[]>();
  const ownedGrad = (x: Tensor): FloatArray => {
    const prev = grads.get(x);
    if (prev && owned.has(x)) return prev.data;
    const buf = arrayFor(x.dtype, x.size);
    if (prev) buf.set(prev.data);
    written.set(x, prev ? [0, x.size] : []);
    grads.set(x, new Tensor(buf, x.shape));
    owned.add(x);
    return buf;
  };
  /** Marks [start, end) of x's owned gradient written; true when none of it was before (all zeros). */
  const firstWrite = (x: Tensor, start: number, end: number): boolean => {
    const ranges = written.get(x)!;
    let fresh = true;
    for (let i = 0; i < ranges.length && fresh; i += 2) fresh = ranges[i + 1] <= start || ranges[i] >= end;
    ranges.push(start, end);
    return fresh;
  };
  const accumulate = (x: Tensor, gx: Tensor): void => {
    const prev = grads.get(x);
    if (!prev) grads.set(x, gx);
    else if (!buildGraph) {
      const into = ownedGrad(x);
      firstWrite(x, 0, into.length);
      kernel('binary')('add')(into, [1], gx.data, [1], into, [into.length]);
    } else grads.set(x, add(prev, gx));
  };
  // Slice adjoints waiting to be assembled into one op per input (graph mode only).
  const pendingSlices = new Map<Tensor, { parts: Tensor[]; offsets: number[] }>();
  const flushSlices = (x: Tensor): void => {
    const pending = pendingSlices.get(x);
    if (!pending) return;
    pendingSlices.delete(x);
    accumulate(x, assembleSlices(x.shape, pending.parts, pending.offsets));
  };
  if (relevant.has(y)) grads.set(y, seed);
  withGradMode(buildGraph, () => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      flushSlices(t); // every consumer of t has been processed: its slice adjoints are complete
      const g = grads.get(t);
      const node = t.node;
      if (!g || !node || !relevant.has(t)) continue;
      const offset = node.sliceOffset;
      if (offset !== undefined && relevant.has(node.inputs[0])) {
        const x = node.inputs[0];
        if (buildGraph) {
          const pending = pendingSlices.get(x) ?? { parts: [], offsets: [] };
          pending.parts.push(g);
          pending.offsets.push(offset);
          pendingSlices.set(x, pending);
        } else {
          const into = ownedGrad(x);
          const src = g.data;
          const part = into.subarray(offset, offset + src.length);
          // A slice's gradient lands where nothing was written yet (the disjoint parameter slices of
          // a flat θ): copied as is, as a first gradient is kept (accumulate); else added.
          if (firstWrite(x, offset, offset + src.length)) part.set(src);
          else kernel('binary')('add')(part, [1], src, [1], part, [src.length]);
        }
        continue;
      }
      const needs = node.inputs.map((x) => relevant.has(x));
      const inputGrads = node.vjp(g, needs);
      node.inputs.forEach((x, k) => {
        const gx = inputGrads[k];
        if (needs[k] && gx) accumulate(x, gx);
      });
    }
  });
  return xs.map((x) => grads.get(x) ?? zeros(x.shape, x.dtype));
}

/** `f`'s gradient as a function: f must map a tensor to a one-element tensor. */
export function grad(f: (x: Tensor) => Tensor): (x: Tensor) => Tensor {
  return (x) => valueAndGrad(f)(x)[1];
}

/** `f`'s value and gradient in one forward and one backward pass. */
export function valueAndGrad(f: (x: Tensor) => Tensor): (x: Tensor) => [Tensor, Tensor] {
  return (x) => {
    const leaf = x.requireGrad();
    const y = withGradMode(true, () => f(leaf));
    const [g] = gradients(y, [leaf]);
    return [y.detach(), g];
  };
}

/**
 * The exact Hessian-vector product H(x)·v of a scalar function, by double backward:
 * differentiate ⟨∇f(x), v⟩ once more. Costs about three gradient evaluations.
 */
export function hvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Tensor {
  return valueGradHvp(f, x, v)[2];
}

/** f(x), ∇f(x) and H(x)·v from one forward pass (the gradient comes free with the HVP). */
export function valueGradHvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): [Tensor, Tensor, Tensor] {
  if (v.size !== x.size)
    throw new ShapeError('hvp', `v ${describeShape(v.shape)} must match x ${describeShape(x.shape)}`);
  if (v.dtype !== x.dtype) throw new DTypeError('hvp', `v is ${v.dtype} but x is ${x.dtype}`);
  const leaf = x.requireGrad();
  return withGradMode(true, () => {
    const y = f(leaf);
    const [g] = gradients(y, [leaf], { createGraph: true });
    const [hv] = g.requiresGrad
      ? gradients(sum(mul(g, reshape(v.detach(), x.shape))), [leaf])
      : [zeros(x.shape, x.dtype)];
    return [y.detach(), g.detach(), hv];
  });
}
