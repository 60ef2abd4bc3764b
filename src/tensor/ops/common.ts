/** Shared argument checks and output construction for the tensor ops. */
import '../../kernels/cpu/index.js';
import { DTypeError, NonFiniteError, describeShape } from '../errors.js';
import { type Shape } from '../shape.js';
import { type DType, type FloatArray, Tensor, arrayFor } from '../tensor.js';

let finiteChecks = true;

/**
 * Every op scans its output for NaN/±Infinity and throws naming the op and its inputs (on by default:
 * one pass over the output, cheap beside the op itself). Turn off only for measured hot paths.
 */
export function setFiniteChecks(enabled: boolean): void {
  finiteChecks = enabled;
}

export function finiteChecksEnabled(): boolean {
  return finiteChecks;
}

export type TensorLike = Tensor | number;

/** Converts a number to a rank-0 constant of `dtype`. */
export function lift(x: TensorLike, dtype: DType): Tensor {
  if (x instanceof Tensor) return x;
  const data = arrayFor(dtype, 1);
  data[0] = x;
  return new Tensor(data, []);
}

/** The common dtype of the tensor arguments; numbers adopt it. */
export function commonDType(op: string, args: readonly TensorLike[]): DType {
  let dtype: DType | null = null;
  let first = -1;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!(a instanceof Tensor)) continue;
    if (dtype === null) {
      dtype = a.dtype;
      first = i;
    } else if (a.dtype !== dtype) {
      throw new DTypeError(op, `argument ${first} is ${dtype} but argument ${i} is ${a.dtype}`);
    }
  }
  return dtype ?? 'float32';
}

export function expectTensor(op: string, name: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new TypeError(`${op}: ${name} must be a Tensor, got ${typeof x}`);
}

/** Wraps kernel output as a tensor, checking it is finite when checks are on. */
export function output(op: string, data: FloatArray, shape: Shape, inputs: readonly Tensor[]): Tensor {
  if (finiteChecks) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v - v !== 0) {
        const shapes = inputs.map((t) => describeShape(t.shape)).join(', ');
        throw new NonFiniteError(op, i, v, `produced ${v} at flat index ${i} (input shapes ${shapes})`);
      }
    }
  }
  return new Tensor(data, shape);
}
