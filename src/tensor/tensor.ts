/**
 * The Tensor: an immutable n-d array over a Float32Array (training) or Float64Array (checks), plus the
 * autodiff node that produced it. Immutability is what makes zero-copy views (reshape, contiguous
 * slices of a flat parameter vector) safe and double backward simple: a saved tensor never changes.
 */
import type { DType, FloatArray } from '../kernels/arrays.js';
import { DTypeError, NonFiniteError, ShapeError, describeShape } from './errors.js';
import { activeScratch } from './scratch.js';
import { type Shape, checkShape, sizeOf } from './shape.js';

/** The element types live with the kernels (the layer below), which compute over the same arrays. */
export type { DType, FloatArray } from '../kernels/arrays.js';

/**
 * How a tensor was computed. `vjp` maps the gradient of the output to the gradients of the inputs,
 * using differentiable ops only, so that differentiating the backward pass again is exact.
 * `needs[i]` says whether input i's gradient is wanted (the engine prunes the rest).
 */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly vjp: (g: Tensor, needs: readonly boolean[]) => (Tensor | null)[];
  /**
   * Set when the output is a contiguous run of the single input's data starting at this flat offset
   * (a slice of a flat parameter vector). The engine then adds the adjoint straight into the input's
   * gradient — in place without a graph, as one `assembleSlices` op per input with one — so
   * differentiating P slices of a d-vector costs O(d), not the O(P·d) of padding each to full size.
   */
  readonly sliceOffset?: number;
}

export class Tensor {
  /** Set by ops when any input requires a gradient and grad mode is on; null for leaves and constants. */
  node: GradNode | null = null;

  constructor(
    readonly data: FloatArray,
    readonly shape: Shape,
    /** Leaves mark themselves with `requireGrad()`; op outputs inherit it from their inputs. */
    public requiresGrad = false,
  ) {}

  get dtype(): DType {
    return this.data instanceof Float64Array ? 'float64' : 'float32';
  }

  get size(): number {
    return this.data.length;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** A new leaf sharing this tensor's data, marked as requiring a gradient. */
  requireGrad(): Tensor {
    return new Tensor(this.data, this.shape, true);
  }

  /** A constant sharing this tensor's data: gradients do not flow through it. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.data.length !== 1)
      throw new ShapeError(
        'item',
        `tensor of shape ${describeShape(this.shape)} has ${this.data.length} elements, not 1`,
      );
    return this.data[0];
  }

  /** Nested plain arrays, for printing and tests. */
  toArray(): unknown {
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return this.data[offset];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${describeShape(this.shape)})`;
  }
}

/**
 * The array for an op's output: zeroed, and inside `withScratch` drawn from scratch memory. An array
 * that a function hands back to its caller is allocated with `freshArray` instead.
 */
export function arrayFor(dtype: DType, size: number): FloatArray {
  const scratch = activeScratch();
  if (scratch) return scratch.take(dtype, size, true);
  return freshArray(dtype, size);
}

/**
 * `arrayFor` for an output that a kernel overwrites in full, element by element (every registered
 * kernel does; kernels.test.ts checks each against NaN-poisoned outputs). In scratch memory it is
 * not zeroed first. Not for a kernel that may skip its work (an empty inner dimension, say).
 */
export function kernelOutput(dtype: DType, size: number): FloatArray {
  const scratch = activeScratch();
  if (scratch) return scratch.take(dtype, size, false);
  return freshArray(dtype, size);
}

/** A new zeroed array that no scratch scope will reuse. */
export function freshArray(dtype: DType, size: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
}

/** Throws if `data` holds a NaN or ±Infinity; `what` names the argument in the message. */
export function assertFinite(op: string, what: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v - v is 0 for finite v and NaN for NaN and ±Infinity: one comparison per element.
    if (v - v !== 0)
      throw new NonFiniteError(op, i, v, `${what} has non-finite value ${v} at flat index ${i}`);
  }
}

/**
 * Creates a tensor from data. Nested arrays and plain number arrays are copied into a new typed array
 * of `dtype` (default float32); typed arrays are used as they are (zero copy), and then the dtype
 * follows the array. Non-finite input is rejected here, at the boundary, so no op ever sees it.
 */
export function tensor(values: number | ArrayLike<number> | unknown[], shape?: Shape, dtype?: DType): Tensor {
  let data: FloatArray;
  let inferred: number[];
  if (values instanceof Float32Array || values instanceof Float64Array) {
    if (dtype !== undefined && dtype !== (values instanceof Float64Array ? 'float64' : 'float32')) {
      throw new DTypeError('tensor', `data is a ${values.constructor.name} but dtype ${dtype} was requested`);
    }
    data = values;
    inferred = [values.length];
  } else if (typeof values === 'number') {
    data = arrayFor(dtype ?? 'float32', 1);
    data[0] = values;
    inferred = [];
  } else {
    const flat: number[] = [];
    inferred = [];
    const walk = (v: unknown, depth: number): void => {
      if (Array.isArray(v) || ArrayBuffer.isView(v)) {
        const arr = v as ArrayLike<unknown>;
        if (inferred.length === depth) inferred.push(arr.length);
        else if (inferred[depth] !== arr.length)
          throw new ShapeError('tensor', `ragged nested array at depth ${depth}`);
        for (let i = 0; i < arr.length; i++) walk(arr[i], depth + 1);
      } else if (typeof v === 'number') {
        if (depth !== inferred.length)
          throw new ShapeError('tensor', `ragged nested array at depth ${depth}`);
        flat.push(v);
      } else {
        throw new TypeError(`tensor: expected numbers, got ${typeof v}`);
      }
    };
    walk(values, 0);
    data = arrayFor(dtype ?? 'float32', flat.length);
    data.set(flat);
  }
  const finalShape = shape ?? inferred;
  checkShape('tensor', finalShape);
  if (sizeOf(finalShape) !== data.length) {
    throw new ShapeError('tensor', `${data.length} values do not fill shape ${describeShape(finalShape)}`);
  }
  assertFinite('tensor', 'data', data);
  return new Tensor(data, [...finalShape]);
}

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  checkShape('zeros', shape);
  return new Tensor(arrayFor(dtype, sizeOf(shape)), [...shape]);
}

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  checkShape('full', shape);
  assertFinite('full', 'value', [value]);
  return new Tensor(arrayFor(dtype, sizeOf(shape)).fill(value), [...shape]);
}

export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}

/** A rank-0 constant of the given dtype. */
export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return full([], value, dtype);
}
