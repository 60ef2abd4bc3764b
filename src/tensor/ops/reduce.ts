/** Reductions over axes: sum, mean, max. Their VJPs broadcast the upstream gradient back. */
import { kernel } from '../../kernels/registry.js';
import { noGrad, record } from '../graph.js';
import { keptShape, normalizeAxes, sizeOf, stridesOf } from '../shape.js';
import { Tensor, arrayFor } from '../tensor.js';
import { expectTensor, output } from './common.js';
import { broadcastTo, div, equal, mul } from './elementwise.js';
import { reshape } from './layout.js';

type Axes = number | readonly number[] | undefined;

/** Strides of the kept-dims output, with 0 on reduced axes so every input element finds its slot. */
function reduceStrides(kept: readonly number[], axes: readonly number[]): number[] {
  const s = stridesOf(kept);
  for (const a of axes) s[a] = 0;
  return s;
}

function reduceRaw(name: 'sum' | 'max', x: Tensor, axes: number[]): Tensor {
  const kept = keptShape(x.shape, axes);
  const out = arrayFor(x.dtype, sizeOf(kept));
  kernel(name)(x.data, x.shape, out, reduceStrides(kept, axes));
  return output(name, out, kept, [x]);
}

function dropAxes(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.filter((_, i) => !axes.includes(i));
}

/** Sum over `axes` (all by default); `keepdims` keeps reduced axes as size 1. */
export function sum(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  expectTensor('sum', 'x', x);
  const ax = normalizeAxes('sum', axes, x.rank);
  const kept = reduceRaw('sum', x, ax);
  const out = keepdims ? kept : new Tensor(kept.data, dropAxes(x.shape, ax));
  return record(out, 'sum', [x], (g) => [broadcastTo(reshape(g, kept.shape), x.shape)]);
}

export function mean(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  const ax = normalizeAxes('mean', axes, x.rank);
  let count = 1;
  for (const a of ax) count *= x.shape[a];
  if (count === 0) throw new RangeError(`mean: reducing over an empty axis of shape [${x.shape.join(', ')}]`);
  return mul(sum(x, ax, keepdims), 1 / count);
}

/** Maximum over `axes`; ties share the gradient equally (as PyTorch's amax does). */
export function max(x: Tensor, axes?: Axes, keepdims = false): Tensor {
  expectTensor('max', 'x', x);
  const ax = normalizeAxes('max', axes, x.rank);
  if (ax.some((a) => x.shape[a] === 0))
    throw new RangeError(`max: reducing over an empty axis of shape [${x.shape.join(', ')}]`);
  const kept = reduceRaw('max', x, ax);
  const out = keepdims ? kept : new Tensor(kept.data, dropAxes(x.shape, ax));
  return record(out, 'max', [x], (g) => {
    // The selection mask is a constant (the max is piecewise linear): built without recording.
    const mask = noGrad(() => {
      const hit = equal(x, kept);
      return div(hit, reduceRaw('sum', hit, ax));
    });
    return [mul(broadcastTo(reshape(g, kept.shape), x.shape), mask)];
  });
}
