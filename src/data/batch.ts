/**
 * The unit that moves through the pipeline: one minibatch, flat typed arrays plus their shapes.
 *
 * Flat arrays (not nested JS arrays) because a batch is handed to worker threads by transfer and read by
 * kernels as one contiguous buffer; the shape travels beside it so nothing has to be inferred.
 */

/** One minibatch. The leading dimension of both shapes is the batch size B. */
export interface Batch {
  /** Features (float) or token ids (int), row-major. */
  inputs: Float32Array | Int32Array;
  /** e.g. `[B, 784]` for images, `[B, T]` for token windows. */
  inputShape: number[];
  /** Class labels / next tokens (int) or regression targets (float), row-major. */
  targets: Int32Array | Float32Array;
  /** `[B]` for class labels, `[B, T]` for next tokens, `[B, k]` for regression. */
  targetShape: number[];
  /** The step (or batch index) this batch belongs to, when it was produced by a seeded sampler. */
  step?: number;
  /** Free-form identity, e.g. `'mnist-train:7:123'`, for logs and error channels. */
  id?: string | number;
}

/** The element kind of a batch field: `float` ⇒ Float32Array, `int` ⇒ Int32Array. */
export type ElementKind = 'float' | 'int';

/**
 * A finite, index-addressable collection of samples. Sample i is a pure function of i, so batches built
 * from index lists are reproducible and can be rebuilt in any worker that holds the same dataset.
 */
export interface Dataset {
  readonly name: string;
  /** Kind of `Batch.inputs`. */
  readonly inputKind: ElementKind;
  /** Per-sample input shape, without the batch dimension (`[784]`, `[T]`). */
  readonly featureShape: readonly number[];
  /** Kind of `Batch.targets`. */
  readonly targetKind: ElementKind;
  /** Per-sample target shape, without the batch dimension: `[]` for one class label, `[T]`, `[k]`. */
  readonly targetShape: readonly number[];
  /** Integer targets lie in `[0, numClasses)`. */
  readonly numClasses?: number;
  /** Integer inputs (token ids) lie in `[0, vocabSize)`. */
  readonly vocabSize?: number;
  /** Number of samples. */
  readonly size: number;
  /** Copies the samples at `indices` (each in `[0, size)`) into one new batch, in that order. */
  gather(indices: ArrayLike<number>): Batch;
}

/** Product of a shape's dimensions (1 for a scalar shape `[]`). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
