/**
 * An in-memory dataset over two flat arrays: sample i's inputs are the i-th row of `inputs`, its targets
 * the i-th row of `targets`. MNIST and the synthetic regression problems are this shape.
 */
import { type Batch, type Dataset, type ElementKind, shapeSize } from './batch.js';

export interface ArrayDatasetOptions {
  name: string;
  inputs: Float32Array | Int32Array;
  featureShape: readonly number[];
  targets: Int32Array | Float32Array;
  /** Per-sample target shape; `[]` (the default) for one class label per sample. */
  targetShape?: readonly number[];
  numClasses?: number;
  vocabSize?: number;
}

function kindOf(a: Float32Array | Int32Array): ElementKind {
  return a instanceof Int32Array ? 'int' : 'float';
}

export class ArrayDataset implements Dataset {
  readonly name: string;
  readonly inputKind: ElementKind;
  readonly featureShape: readonly number[];
  readonly targetKind: ElementKind;
  readonly targetShape: readonly number[];
  readonly numClasses?: number;
  readonly vocabSize?: number;
  readonly size: number;
  /** The backing arrays; read-only by convention (gather copies out of them). */
  readonly inputs: Float32Array | Int32Array;
  readonly targets: Int32Array | Float32Array;
  private readonly rowIn: number;
  private readonly rowOut: number;

  constructor(opts: ArrayDatasetOptions) {
    this.name = opts.name;
    this.inputs = opts.inputs;
    this.targets = opts.targets;
    this.featureShape = Object.freeze([...opts.featureShape]);
    this.targetShape = Object.freeze([...(opts.targetShape ?? [])]);
    this.inputKind = kindOf(opts.inputs);
    this.targetKind = kindOf(opts.targets);
    if (opts.numClasses !== undefined) this.numClasses = opts.numClasses;
    if (opts.vocabSize !== undefined) this.vocabSize = opts.vocabSize;
    this.rowIn = shapeSize(this.featureShape);
    this.rowOut = shapeSize(this.targetShape);
    if (this.rowIn <= 0) throw new RangeError(`${this.name}: featureShape must have a positive size`);
    if (opts.inputs.length % this.rowIn !== 0) {
      throw new RangeError(
        `${this.name}: inputs length ${opts.inputs.length} is not a multiple of ${this.rowIn}`,
      );
    }
    this.size = opts.inputs.length / this.rowIn;
    if (opts.targets.length !== this.size * this.rowOut) {
      throw new RangeError(
        `${this.name}: targets length ${opts.targets.length} != ${this.size} samples × ${this.rowOut}`,
      );
    }
  }

  gather(indices: ArrayLike<number>): Batch {
    const b = indices.length;
    const inputs =
      this.inputs instanceof Int32Array ? new Int32Array(b * this.rowIn) : new Float32Array(b * this.rowIn);
    const targets =
      this.targets instanceof Int32Array
        ? new Int32Array(b * this.rowOut)
        : new Float32Array(b * this.rowOut);
    for (let r = 0; r < b; r++) {
      const i = indices[r];
      if (!Number.isInteger(i) || i < 0 || i >= this.size) {
        throw new RangeError(`${this.name}: sample index ${i} outside [0, ${this.size})`);
      }
      inputs.set(this.inputs.subarray(i * this.rowIn, (i + 1) * this.rowIn), r * this.rowIn);
      targets.set(this.targets.subarray(i * this.rowOut, (i + 1) * this.rowOut), r * this.rowOut);
    }
    return {
      inputs,
      inputShape: [b, ...this.featureShape],
      targets,
      targetShape: [b, ...this.targetShape],
    };
  }
}
