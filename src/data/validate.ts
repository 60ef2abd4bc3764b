/**
 * Batch validation: the gate in front of the optimizer. A batch that passes has consistent shapes, the
 * declared element types, finite floats and in-range integer labels / token ids; one that fails raises a
 * `BatchValidationError` whose `reason` is a short machine code (for the stream's error channel and
 * metrics) and whose message names the field, the sample and the element, so a user can find the row in
 * their data.
 *
 * Validation never copies: a valid batch is returned as the same object.
 */
import { type Batch, type Dataset, type ElementKind, shapeSize } from './batch.js';

export type BatchValidationReason =
  /** `inputs`/`targets`/a shape is absent or not an array at all. */
  | 'missing'
  /** Wrong typed-array kind (e.g. Float32Array labels where Int32Array is declared). */
  | 'dtype'
  /** Batch size 0. */
  | 'empty'
  /** A shape that is malformed or disagrees with the spec or with the other field's batch size. */
  | 'shape'
  /** An array whose length is not the product of its shape. */
  | 'length'
  /** NaN or ±Infinity in float data. */
  | 'non_finite'
  /** A class label that is not an integer (labels sent as floats). */
  | 'label_not_integer'
  /** A class label / next-token target outside [0, numClasses). */
  | 'label_range'
  /** A token id outside [0, vocabSize). */
  | 'token_range';

export type BatchField = 'batch' | 'inputs' | 'inputShape' | 'targets' | 'targetShape';

export class BatchValidationError extends Error {
  override readonly name = 'BatchValidationError';
  constructor(
    readonly reason: BatchValidationReason,
    readonly field: BatchField,
    /** Index of the offending sample in the batch, or null when the problem is not one sample's. */
    readonly sampleIndex: number | null,
    /** Flat index of the offending element within that sample, or null. */
    readonly elementIndex: number | null,
    message: string,
  ) {
    super(message);
  }
}

/** What a batch must look like. `batchSpecOf(dataset)` derives it from a dataset. */
export interface BatchSpec {
  inputKind: ElementKind;
  /** Per-sample input shape, e.g. `[784]` or `[T]`. */
  featureShape: readonly number[];
  targetKind: ElementKind;
  /** Per-sample target shape: `[]` for one label, `[T]`, `[k]`. */
  targetShape: readonly number[];
  /** Required for int targets: labels lie in `[0, numClasses)`. */
  numClasses?: number;
  /** Required for int inputs: token ids lie in `[0, vocabSize)`. */
  vocabSize?: number;
}

export function batchSpecOf(dataset: Dataset): BatchSpec {
  const spec: BatchSpec = {
    inputKind: dataset.inputKind,
    featureShape: dataset.featureShape,
    targetKind: dataset.targetKind,
    targetShape: dataset.targetShape,
  };
  if (dataset.numClasses !== undefined) spec.numClasses = dataset.numClasses;
  if (dataset.vocabSize !== undefined) spec.vocabSize = dataset.vocabSize;
  return spec;
}

function fmtShape(s: readonly unknown[]): string {
  return `[${s.join(', ')}]`;
}

function fmtValue(v: number): string {
  return Number.isNaN(v) ? 'NaN' : String(v);
}

/** `inputs[3][17]` for a sample with more than one element, `targets[3]` for a scalar per sample. */
function where(field: BatchField, sample: number, elem: number, perSample: number): string {
  return perSample === 1 && elem === 0 ? `${field}[${sample}]` : `${field}[${sample}][${elem}]`;
}

function typeName(a: unknown): string {
  if (a === null) return 'null';
  if (typeof a !== 'object') return typeof a;
  return (a as object).constructor?.name ?? 'Object';
}

function fail(
  reason: BatchValidationReason,
  field: BatchField,
  sample: number | null,
  elem: number | null,
  message: string,
): never {
  throw new BatchValidationError(reason, field, sample, elem, message);
}

function checkShape(field: 'inputShape' | 'targetShape', shape: unknown): number[] {
  if (!Array.isArray(shape))
    fail('missing', field, null, null, `${field} must be an array, got ${typeName(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      fail('shape', field, null, null, `${field} ${fmtShape(shape)} has an invalid dimension ${d}`);
  }
  if (shape.length === 0) fail('shape', field, null, null, `${field} [] has no batch dimension`);
  return shape as number[];
}

function checkArray(field: 'inputs' | 'targets', a: unknown): Float32Array | Int32Array {
  if (a === undefined || a === null) fail('missing', field, null, null, `${field} is missing`);
  if (!(a instanceof Float32Array || a instanceof Int32Array)) {
    fail('dtype', field, null, null, `${field} must be a Float32Array or Int32Array, got ${typeName(a)}`);
  }
  return a;
}

function checkPerSample(
  field: 'inputShape' | 'targetShape',
  shape: number[],
  expected: readonly number[],
  batchSize: number,
): void {
  const want = [batchSize, ...expected];
  const ok = shape.length === want.length && shape.every((d, i) => d === want[i]);
  if (!ok) {
    fail(
      'shape',
      field,
      null,
      null,
      `${field} ${fmtShape(shape)} does not match the expected ${fmtShape(['B', ...expected])} with B = ${batchSize}`,
    );
  }
}

function checkFinite(field: 'inputs' | 'targets', a: Float32Array, perSample: number, noun: string): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    // v − v is 0 exactly for finite v and NaN for NaN/±Infinity: one subtraction, no call.
    if (v - v !== 0) {
      const s = Math.floor(i / perSample);
      const e = i - s * perSample;
      fail(
        'non_finite',
        field,
        s,
        e,
        `${where(field, s, e, perSample)} is ${fmtValue(v)} (sample ${s}, ${noun} ${e})`,
      );
    }
  }
}

function checkRange(
  field: 'inputs' | 'targets',
  a: Int32Array,
  limit: number,
  perSample: number,
  reason: 'label_range' | 'token_range',
): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v < 0 || v >= limit) {
      const s = Math.floor(i / perSample);
      const e = i - s * perSample;
      const what =
        reason === 'token_range'
          ? `outside the vocabulary [0, ${limit})`
          : `not a class label in [0, ${limit})`;
      const pos = perSample === 1 ? `sample ${s}` : `sample ${s}, position ${e}`;
      fail(reason, field, s, e, `${where(field, s, e, perSample)} = ${v} is ${what} (${pos})`);
    }
  }
}

/**
 * Checks `batch` against `spec` and returns it unchanged, or throws a `BatchValidationError`.
 * Order: presence → shapes → lengths → element types → values, so the first error is the most basic one.
 */
export function validateBatch<B extends Batch>(batch: B, spec: BatchSpec): B {
  if (batch === null || typeof batch !== 'object')
    fail('missing', 'batch', null, null, `batch must be an object, got ${typeName(batch)}`);
  const inputs = checkArray('inputs', batch.inputs);
  const targets = checkArray('targets', batch.targets);
  const inputShape = checkShape('inputShape', batch.inputShape);
  const targetShape = checkShape('targetShape', batch.targetShape);

  const b = inputShape[0];
  if (b < 1)
    fail('empty', 'inputShape', null, null, `batch size must be >= 1, inputShape is ${fmtShape(inputShape)}`);
  checkPerSample('inputShape', inputShape, spec.featureShape, b);
  checkPerSample('targetShape', targetShape, spec.targetShape, b);
  if (inputs.length !== shapeSize(inputShape)) {
    fail(
      'length',
      'inputs',
      null,
      null,
      `inputs has ${inputs.length} elements, inputShape ${fmtShape(inputShape)} needs ${shapeSize(inputShape)}`,
    );
  }
  if (targets.length !== shapeSize(targetShape)) {
    fail(
      'length',
      'targets',
      null,
      null,
      `targets has ${targets.length} elements, targetShape ${fmtShape(targetShape)} needs ${shapeSize(targetShape)}`,
    );
  }
  const perIn = shapeSize(spec.featureShape);
  const perOut = shapeSize(spec.targetShape);

  // Inputs.
  if (spec.inputKind === 'float') {
    if (!(inputs instanceof Float32Array))
      fail(
        'dtype',
        'inputs',
        null,
        null,
        `inputs must be a Float32Array of features, got ${typeName(inputs)}`,
      );
    checkFinite('inputs', inputs, perIn, 'feature');
  } else {
    if (!(inputs instanceof Int32Array))
      fail(
        'dtype',
        'inputs',
        null,
        null,
        `inputs must be an Int32Array of token ids, got ${typeName(inputs)}`,
      );
    if (spec.vocabSize === undefined)
      throw new TypeError('validateBatch: a spec with int inputs needs vocabSize');
    checkRange('inputs', inputs, spec.vocabSize, perIn, 'token_range');
  }

  // Targets.
  if (spec.targetKind === 'float') {
    if (!(targets instanceof Float32Array))
      fail(
        'dtype',
        'targets',
        null,
        null,
        `targets must be a Float32Array of regression targets, got ${typeName(targets)}`,
      );
    checkFinite('targets', targets, perOut, 'component');
  } else {
    if (spec.numClasses === undefined)
      throw new TypeError('validateBatch: a spec with int targets needs numClasses');
    if (!(targets instanceof Int32Array)) {
      // Labels that arrived as floats: name the first non-label value if there is one, else the type.
      checkFinite('targets', targets, perOut, 'position');
      for (let i = 0; i < targets.length; i++) {
        if (!Number.isInteger(targets[i])) {
          const s = Math.floor(i / perOut);
          const e = i - s * perOut;
          fail(
            'label_not_integer',
            'targets',
            s,
            e,
            `${where('targets', s, e, perOut)} = ${targets[i]} is not an integer class label (sample ${s})`,
          );
        }
      }
      fail(
        'dtype',
        'targets',
        null,
        null,
        `targets must be an Int32Array of class labels, got ${typeName(targets)}`,
      );
    }
    checkRange('targets', targets, spec.numClasses, perOut, 'label_range');
  }
  return batch;
}
