/** LayerNorm parameters (gain 1, bias 0) named as PyTorch's nn.LayerNorm. */
import { fusedLayerNorm } from '../../tensor/ops/layer-norm.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ParamSpec, Params } from '../param-layout.js';

export function layerNormSpecs(prefix: string, features: number): ParamSpec[] {
  return [
    {
      name: `${prefix}.weight`,
      shape: [features],
      tags: ['norm', `layer:${prefix}`],
      init: { kind: 'constant', value: 1 },
    },
    {
      name: `${prefix}.bias`,
      shape: [features],
      tags: ['norm', 'bias', `layer:${prefix}`],
      init: { kind: 'constant', value: 0 },
    },
  ];
}

export function applyLayerNorm(p: Params, prefix: string, x: Tensor): Tensor {
  return fusedLayerNorm(x, p.get(`${prefix}.weight`), p.get(`${prefix}.bias`));
}
