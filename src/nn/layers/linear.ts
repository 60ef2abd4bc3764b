/** Linear layer y = x·Wᵀ + b with PyTorch's layout (W is [out, in]) and default init. */
import { affine } from '../../tensor/ops/affine.js';
import { reshape } from '../../tensor/ops/layout.js';
import { matmul } from '../../tensor/ops/matmul.js';
import { ShapeError, describeShape } from '../../tensor/errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ParamInit, ParamSpec, ParamTag } from '../param-layout.js';
import type { Params } from '../param-layout.js';

export interface LinearOptions {
  bias?: boolean;
  /** Weight init; PyTorch's default is U(−1/√in, 1/√in) for weight and bias. */
  weightInit?: ParamInit;
}

export function linearSpecs(
  prefix: string,
  inFeatures: number,
  outFeatures: number,
  options: LinearOptions = {},
): ParamSpec[] {
  const bound = 1 / Math.sqrt(inFeatures);
  const layer: ParamTag = `layer:${prefix}`;
  const specs: ParamSpec[] = [
    {
      name: `${prefix}.weight`,
      shape: [outFeatures, inFeatures],
      tags: ['weight', 'decay', layer],
      init: options.weightInit ?? { kind: 'uniform', bound },
    },
  ];
  if (options.bias ?? true) {
    const biasInit: ParamInit = options.weightInit
      ? { kind: 'constant', value: 0 }
      : { kind: 'uniform', bound };
    specs.push({ name: `${prefix}.bias`, shape: [outFeatures], tags: ['bias', layer], init: biasInit });
  }
  return specs;
}

/** Applies the layer to x of shape [..., in]; leading dims are flattened into one matmul. */
export function linear(p: Params, prefix: string, x: Tensor, bias = true): Tensor {
  const w = p.get(`${prefix}.weight`);
  const [out, inFeatures] = w.shape;
  if (x.shape[x.rank - 1] !== inFeatures) {
    throw new ShapeError(
      'linear',
      `${prefix}: input ${describeShape(x.shape)} has ${x.shape[x.rank - 1]} features, weight ${describeShape(w.shape)} expects ${inFeatures}`,
    );
  }
  const lead = x.shape.slice(0, -1);
  const flat = x.rank === 2 ? x : reshape(x, [-1, inFeatures]);
  // With a bias, one fused op adds it in place to the product.
  const y = bias ? affine(flat, w, p.get(`${prefix}.bias`)) : matmul(flat, w, { transB: true });
  return x.rank === 2 ? y : reshape(y, [...lead, out]);
}
