/**
 * Errors raised by the tensor core. Each names the op, the offending argument and the shapes involved,
 * so a user reading a stack trace learns what was wrong without a debugger.
 */

export function describeShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A shape, rank or broadcasting mismatch. */
export class ShapeError extends Error {
  override readonly name = 'ShapeError';
  constructor(
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
  }
}

/** Arguments of different dtypes (float32 and float64 are never mixed silently). */
export class DTypeError extends Error {
  override readonly name = 'DTypeError';
  constructor(
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
  }
}

/** A NaN or ±Infinity where a finite value is required: produced by an op or passed in as data. */
export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
  constructor(
    readonly op: string,
    readonly index: number,
    readonly value: number,
    message: string,
  ) {
    super(`${op}: ${message}`);
  }
}
