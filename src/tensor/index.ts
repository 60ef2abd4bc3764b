/** The tensor core's public surface (explicit re-exports). */
export {
  Tensor,
  tensor,
  zeros,
  ones,
  full,
  scalar,
  assertFinite,
  type DType,
  type FloatArray,
  type GradNode,
} from './tensor.js';
export { ShapeError, DTypeError, NonFiniteError } from './errors.js';
export { sizeOf, broadcastShapes, type Shape } from './shape.js';
export { noGrad, withGradMode, isGradEnabled } from './graph.js';
export { setFiniteChecks, finiteChecksEnabled, type TensorLike } from './ops/common.js';
export {
  add,
  sub,
  mul,
  div,
  neg,
  exp,
  log,
  sqrt,
  pow,
  tanh,
  sigmoid,
  relu,
  abs,
  maximum,
  where,
  greaterEqual,
  equal,
  stopGradient,
  broadcastTo,
  sumTo,
} from './ops/elementwise.js';
export { sum, mean, max } from './ops/reduce.js';
export { reshape, permute, transpose, slice, pad, concat } from './ops/layout.js';
export { matmul, type MatmulOptions } from './ops/matmul.js';
export { gather, scatterAdd } from './ops/indexing.js';
export { softmax, logSoftmax, logsumexp, gelu, layerNorm, crossEntropy, mse } from './functional.js';
export { causalSoftmax } from './ops/fused.js';
export { fusedLayerNorm } from './ops/layer-norm.js';
export { affine } from './ops/affine.js';
export { gradients, grad, valueAndGrad, hvp, valueGradHvp, type GradientsOptions } from './autodiff.js';
export { withScratch } from './scratch.js';
