/**
 * The kernels' leaf: element types, the flat arrays kernels compute over, and the shape arithmetic
 * they need. Kernels import nothing from the tensor layer; the tensor layer re-exports these.
 */

export type DType = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

/** Number of elements of a shape (1 for a scalar's []). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a shape, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}
