/**
 * Ops that rearrange data: reshape (zero copy), permute/transpose, slice and its adjoint pad, concat.
 * A slice that is one contiguous run of memory (e.g. one parameter of a flat vector) is zero copy too:
 * tensors are immutable, so sharing the buffer is safe.
 */
import { kernel } from '../../kernels/registry.js';
import { DTypeError, ShapeError, describeShape } from '../errors.js';
import { record } from '../graph.js';
import { type Shape, checkShape, sizeOf } from '../shape.js';
import { Tensor, arrayFor, kernelOutput } from '../tensor.js';
import { expectTensor } from './common.js';

/** Same data, new shape; one dimension may be −1 (inferred). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  expectTensor('reshape', 'x', x);
  const resolved = [...shape];
  const inferAt = resolved.indexOf(-1);
  if (inferAt >= 0) {
    const known = sizeOf(resolved.filter((_, i) => i !== inferAt));
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError('reshape', `cannot infer -1 in ${describeShape(shape)} for ${x.size} elements`);
    }
    resolved[inferAt] = x.size / known;
  }
  checkShape('reshape', resolved);
  if (sizeOf(resolved) !== x.size) {
    throw new ShapeError(
      'reshape',
      `cannot reshape ${describeShape(x.shape)} (${x.size} elements) to ${describeShape(shape)}`,
    );
  }
  const out = new Tensor(x.data, resolved);
  return record(out, 'reshape', [x], (g) => [reshape(g, x.shape)]);
}

/** Reorders axes: output axis i is input axis perm[i]. */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  expectTensor('permute', 'x', x);
  const rank = x.rank;
  const seen = new Set(perm);
  if (
    perm.length !== rank ||
    seen.size !== rank ||
    perm.some((p) => !Number.isInteger(p) || p < 0 || p >= rank)
  ) {
    throw new ShapeError(
      'permute',
      `perm [${perm.join(', ')}] is not a permutation of ${rank} axes for shape ${describeShape(x.shape)}`,
    );
  }
  const shape = perm.map((p) => x.shape[p]);
  const out = kernelOutput(x.dtype, x.size);
  kernel('permute')(x.data, x.shape, perm, out);
  const inverse = new Array<number>(rank);
  perm.forEach((p, i) => (inverse[p] = i));
  return record(new Tensor(out, shape), 'permute', [x], (g) => [permute(g, inverse)]);
}

/** Swaps two axes (the last two by default). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const rank = x.rank;
  const i = a < 0 ? a + rank : a;
  const j = b < 0 ? b + rank : b;
  if (i < 0 || j < 0 || i >= rank || j >= rank)
    throw new ShapeError('transpose', `axes ${a}, ${b} out of range for rank ${rank}`);
  const perm = Array.from({ length: rank }, (_, k) => k);
  perm[i] = j;
  perm[j] = i;
  return permute(x, perm);
}

function checkBox(op: string, shape: Shape, starts: readonly number[], sizes: readonly number[]): void {
  if (starts.length !== shape.length || sizes.length !== shape.length) {
    throw new ShapeError(op, `starts/sizes need ${shape.length} entries for shape ${describeShape(shape)}`);
  }
  for (let d = 0; d < shape.length; d++) {
    const s = starts[d];
    const n = sizes[d];
    if (!Number.isInteger(s) || !Number.isInteger(n) || s < 0 || n < 0 || s + n > shape[d]) {
      throw new ShapeError(
        op,
        `box starts [${starts.join(', ')}] sizes [${sizes.join(', ')}] exceeds shape ${describeShape(shape)}`,
      );
    }
  }
}

/** True when the box is one contiguous run in row-major memory. */
function isContiguous(shape: Shape, sizes: readonly number[]): boolean {
  let d = 0;
  while (d < shape.length && sizes[d] === 1) d++; // leading unit dims
  d++; // the first dim that may be partial
  for (; d < shape.length; d++) if (sizes[d] !== shape[d]) return false;
  return true;
}

/** The box [starts, starts + sizes) of x. */
export function slice(x: Tensor, starts: readonly number[], sizes: readonly number[]): Tensor {
  expectTensor('slice', 'x', x);
  checkBox('slice', x.shape, starts, sizes);
  const vjp = (g: Tensor): Tensor[] => [pad(g, x.shape, starts)];
  if (isContiguous(x.shape, sizes)) {
    let offset = 0;
    let stride = 1;
    for (let d = x.rank - 1; d >= 0; d--) {
      offset += starts[d] * stride;
      stride *= x.shape[d];
    }
    const out = new Tensor(x.data.subarray(offset, offset + sizeOf(sizes)), [...sizes]);
    return record(out, 'slice', [x], vjp, offset);
  }
  const data = arrayFor(x.dtype, sizeOf(sizes));
  kernel('copyBox')(x.data, x.shape, starts, data, sizes, new Array<number>(sizes.length).fill(0), sizes);
  return record(new Tensor(data, [...sizes]), 'slice', [x], vjp);
}

/** Places x into zeros of `shape` at `starts` (the adjoint of slice). */
export function pad(x: Tensor, shape: Shape, starts: readonly number[]): Tensor {
  expectTensor('pad', 'x', x);
  checkBox('pad', shape, starts, x.shape);
  const data = arrayFor(x.dtype, sizeOf(shape));
  kernel('copyBox')(x.data, x.shape, new Array<number>(x.rank).fill(0), data, shape, starts, x.shape);
  return record(new Tensor(data, [...shape]), 'pad', [x], (g) => [slice(g, starts, x.shape)]);
}

/** Joins tensors along `axis`; all other dims must agree. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new ShapeError('concat', 'needs at least one tensor');
  xs.forEach((x, i) => expectTensor('concat', `xs[${i}]`, x));
  const first = xs[0];
  const rank = first.rank;
  const ax = axis < 0 ? axis + rank : axis;
  if (ax < 0 || ax >= rank) throw new ShapeError('concat', `axis ${axis} out of range for rank ${rank}`);
  let total = 0;
  xs.forEach((x, i) => {
    if (x.dtype !== first.dtype)
      throw new DTypeError('concat', `xs[${i}] is ${x.dtype}, xs[0] is ${first.dtype}`);
    if (x.rank !== rank || x.shape.some((d, k) => k !== ax && d !== first.shape[k])) {
      throw new ShapeError(
        'concat',
        `xs[${i}] has shape ${describeShape(x.shape)}, incompatible with ${describeShape(first.shape)} along axis ${ax}`,
      );
    }
    total += x.shape[ax];
  });
  const shape = [...first.shape];
  shape[ax] = total;
  const data = arrayFor(first.dtype, sizeOf(shape));
  const starts: number[][] = [];
  let at = 0;
  for (const x of xs) {
    const dst = new Array<number>(rank).fill(0);
    dst[ax] = at;
    starts.push(dst);
    kernel('copyBox')(x.data, x.shape, new Array<number>(rank).fill(0), data, shape, dst, x.shape);
    at += x.shape[ax];
  }
  return record(new Tensor(data, shape), 'concat', xs, (g, needs) =>
    xs.map((x, i) => (needs[i] ? slice(g, starts[i], x.shape) : null)),
  );
}

/**
 * zeros(shape) with each part added (flattened) at its flat offset: the adjoint of several contiguous
 * slices of one tensor, as a single op. Its VJP slices g back apart, so it differentiates again.
 */
export function assembleSlices(shape: Shape, parts: readonly Tensor[], offsets: readonly number[]): Tensor {
  const size = sizeOf(shape);
  if (parts.length === 0 || parts.length !== offsets.length) {
    throw new ShapeError(
      'assembleSlices',
      `needs one offset per part, got ${parts.length} parts and ${offsets.length} offsets`,
    );
  }
  const out = arrayFor(parts[0].dtype, size);
  parts.forEach((p, i) => {
    const o = offsets[i];
    if (!Number.isInteger(o) || o < 0 || o + p.size > size) {
      throw new ShapeError('assembleSlices', `part ${i} of ${p.size} values at offset ${o} exceeds ${size}`);
    }
    const d = p.data;
    for (let j = 0; j < d.length; j++) out[o + j] += d[j];
  });
  return record(new Tensor(out, [...shape]), 'assembleSlices', parts, (g, needs) => {
    const flat = reshape(g, [size]);
    return parts.map((p, i) => (needs[i] ? reshape(slice(flat, [offsets[i]], [p.size]), p.shape) : null));
  });
}
