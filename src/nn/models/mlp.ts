/** A multilayer perceptron: linear layers with an activation between them (PyTorch-style names). */
import { gelu } from '../../tensor/functional.js';
import { relu, tanh } from '../../tensor/ops/elementwise.js';
import { ShapeError, describeShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { linear, linearSpecs } from '../layers/linear.js';
import { type Model, type MlpSpec, featureTensor } from '../model.js';
import { ParamLayout, type ParamSpec } from '../param-layout.js';

const ACTIVATIONS = { tanh, relu, gelu } as const;

export function mlp(spec: MlpSpec): Model {
  const { sizes } = spec;
  const activation = spec.activation ?? 'tanh';
  if (!Array.isArray(sizes) || sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new RangeError(`mlp: sizes must be at least two positive integers, got ${JSON.stringify(sizes)}`);
  }
  if (!(activation in ACTIVATIONS))
    throw new RangeError(`mlp: unknown activation ${activation}; use tanh, relu or gelu`);
  const act = ACTIVATIONS[activation];
  const paramSpecs: ParamSpec[] = [];
  for (let l = 0; l + 1 < sizes.length; l++)
    paramSpecs.push(...linearSpecs(`layers.${l}`, sizes[l], sizes[l + 1]));
  const layout = new ParamLayout(paramSpecs);
  return {
    spec: { ...spec, activation },
    paramSpecs,
    layout,
    numClasses: sizes[sizes.length - 1],
    head: `layers.${sizes.length - 2}.weight`,
    logits(p, inputs) {
      if (inputs.shape.length !== 2 || inputs.shape[1] !== sizes[0]) {
        throw new ShapeError('mlp', `inputs ${describeShape(inputs.shape)} must be [batch, ${sizes[0]}]`);
      }
      let h: Tensor = featureTensor(inputs, p.get('layers.0.weight').dtype);
      for (let l = 0; l + 1 < sizes.length; l++) {
        h = linear(p, `layers.${l}`, h);
        if (l + 2 < sizes.length) h = act(h);
      }
      return h;
    },
  };
}
