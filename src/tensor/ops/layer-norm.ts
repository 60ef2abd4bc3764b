/**
 * LayerNorm over the last axis with gain and bias as one fused primitive: one kernel forward, and
 * for a plain gradient one kernel backward that yields dx, dgain and dbias together (the composite
 * add(mul(normalize(x), gain), bias) takes about a dozen elementwise passes and reductions for the
 * same). When the backward pass builds a graph (double backward, for HVPs), the VJP is instead the
 * composite's, written in differentiable primitives.
 */
import { kernel } from '../../kernels/registry.js';
import { ShapeError, describeShape } from '../errors.js';
import { isGradEnabled, record } from '../graph.js';
import { Tensor, arrayFor, kernelOutput } from '../tensor.js';
import { commonDType, expectTensor, output } from './common.js';
import { mul, sumTo } from './elementwise.js';
import { normalize, normalizeVjpInPrimitives } from './fused.js';

/** (x − mean)/√(var + eps)·gain + bias over the last axis; gain and bias are [C] for x [..., C]. */
export function fusedLayerNorm(x: Tensor, gain: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  expectTensor('layerNorm', 'x', x);
  expectTensor('layerNorm', 'gain', gain);
  expectTensor('layerNorm', 'bias', bias);
  commonDType('layerNorm', [x, gain, bias]);
  const cols = x.rank > 0 ? x.shape[x.rank - 1] : 0;
  if (x.rank < 1 || gain.rank !== 1 || gain.shape[0] !== cols || bias.rank !== 1 || bias.shape[0] !== cols) {
    throw new ShapeError(
      'layerNorm',
      `gain ${describeShape(gain.shape)} and bias ${describeShape(bias.shape)} must be [${cols}] for x ${describeShape(x.shape)}`,
    );
  }
  const rows = cols > 0 ? x.size / cols : 0;
  const y = kernelOutput(x.dtype, x.size);
  const xhat = kernelOutput(x.dtype, x.size);
  const rstd = arrayFor(x.dtype, rows);
  if (x.size > 0) kernel('layerNorm')(x.data, rows, cols, eps, gain.data, bias.data, y, xhat, rstd);
  const out = output('layerNorm', y, x.shape, [x, gain, bias]);
  return record(out, 'layerNorm', [x, gain, bias], (g, needs) => {
    if (isGradEnabled()) {
      const xh = normalize(x, eps);
      return [
        needs[0] ? normalizeVjpInPrimitives(x, xh, mul(g, gain), eps) : null,
        needs[1] ? sumTo(mul(g, xh), gain.shape) : null,
        needs[2] ? sumTo(g, bias.shape) : null,
      ];
    }
    const dx = kernelOutput(x.dtype, x.size);
    const dgain = arrayFor(x.dtype, cols);
    const dbias = arrayFor(x.dtype, cols);
    if (x.size > 0) kernel('layerNormVjp')(g.data, xhat, rstd, gain.data, rows, cols, dx, dgain, dbias);
    return [
      needs[0] ? new Tensor(dx, x.shape) : null,
      needs[1] ? new Tensor(dgain, gain.shape) : null,
      needs[2] ? new Tensor(dbias, bias.shape) : null,
    ];
  });
}
