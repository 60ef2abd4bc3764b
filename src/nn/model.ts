/**
 * The model contract. A model is rebuilt from a serializable spec (plain JSON), so a worker thread can
 * construct the same model; its parameters are one flat vector described by `layout`.
 */
import { crossEntropy } from '../tensor/functional.js';
import { ShapeError, describeShape } from '../tensor/errors.js';
import { type DType, Tensor, freshArray } from '../tensor/tensor.js';
import { type ParamLayout, type ParamSpec, Params } from './param-layout.js';
import { initParams } from './param-store.js';

export interface MlpSpec {
  kind: 'mlp';
  /** Layer widths from input to output, e.g. [784, 256, 256, 10]. */
  sizes: number[];
  activation?: 'tanh' | 'relu' | 'gelu';
}

export interface GptSpec {
  kind: 'gpt';
  vocabSize: number;
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** Output head shares the token embedding (GPT-2 weight tying). Default true. */
  tied?: boolean;
}

export type ModelSpec = MlpSpec | GptSpec | { kind: string; [key: string]: unknown };

/** Inputs as they arrive in a batch: float features or integer token ids, row-major with a shape. */
export interface ModelInputs {
  data: Float32Array | Float64Array | Int32Array;
  shape: readonly number[];
}

export interface Model {
  readonly spec: ModelSpec;
  readonly paramSpecs: readonly ParamSpec[];
  readonly layout: ParamLayout;
  /** Number of classes (or vocabulary size) of the logits' last axis. */
  readonly numClasses: number;
  /**
   * The parameter that projects onto the logits when it is a separate matrix (an MLP's last weight, an
   * untied GPT's `lm_head.weight`); absent when the head is tied to an embedding. Matrix-aware
   * optimizers keep it out of their matrix group (tensor-layout.ts).
   */
  readonly head?: string;
  /** Logits [..., numClasses] for the inputs. */
  logits(params: Params, inputs: ModelInputs): Tensor;
}

/** Fresh parameters: each parameter drawn from rng(seed, 'init', name). */
export function initialParams(
  model: Model,
  seed: number,
  dtype: DType = 'float32',
): Float32Array | Float64Array {
  const out = freshArray(dtype, model.layout.size);
  initParams(model.paramSpecs, model.layout, seed, out);
  return out;
}

/** Float features as a tensor of `dtype` (copied only when the dtype differs). */
export function featureTensor(inputs: ModelInputs, dtype: DType): Tensor {
  const d = inputs.data;
  if (d instanceof Int32Array) throw new TypeError('expected float features, got integer token ids');
  const data =
    dtype === 'float64'
      ? d instanceof Float64Array
        ? d
        : Float64Array.from(d)
      : d instanceof Float32Array
        ? d
        : Float32Array.from(d);
  return new Tensor(data, [...inputs.shape]);
}

/** The mean cross-entropy of the model on (inputs, targets) as a function of the flat parameters. */
export function lossFunction(
  model: Model,
  inputs: ModelInputs,
  targets: Int32Array,
): (flat: Tensor) => Tensor {
  return (flat) => {
    const logits = model.logits(model.layout.unflatten(flat), inputs);
    const predictions = logits.size / model.numClasses;
    if (targets.length !== predictions) {
      throw new ShapeError(
        'loss',
        `logits ${describeShape(logits.shape)} make ${predictions} predictions but ${targets.length} targets were given`,
      );
    }
    return crossEntropy(logits, targets);
  };
}
