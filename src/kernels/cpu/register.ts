/** Registers the CPU reference of every kernel (before any other backend of the same kernels). */
import { registerKernel } from '../registry.js';
import { cpuBinary, cpuNormalize, cpuUnary, cpuWhere } from './elementwise.js';
import { cpuGeluExp, cpuGeluSecond, cpuGeluVjp } from './gelu.js';
import { cpuLayerNorm, cpuLayerNormVjp } from './layer-norm.js';
import { cpuCausalSoftmax, cpuLogSoftmaxVjp, cpuSoftmax, cpuSoftmaxVjp } from './softmax.js';
import { cpuMax, cpuSum } from './reduce.js';
import { cpuTanhVjp } from './tanh-vjp.js';
import {
  addIntoLoop,
  cpuAdamMoments,
  addScaledIntoLoop,
  allFiniteLoop,
  emaIntoLoop,
  scaleIntoLoop,
  sophiaGClipLoop,
  sophiaHClipLoop,
  sumOfSquaresLoop,
} from './passes.js';
import { cpuCopyBox, cpuGather, cpuPermute, cpuScatterAdd } from './layout.js';
import { cpuAffine, cpuMatmul } from './matmul.js';

registerKernel('binary', 'cpu', cpuBinary);
registerKernel('unary', 'cpu', cpuUnary);
registerKernel('where', 'cpu', cpuWhere);
registerKernel('sum', 'cpu', cpuSum);
registerKernel('max', 'cpu', cpuMax);
registerKernel('matmul', 'cpu', cpuMatmul);
registerKernel('affine', 'cpu', cpuAffine);
registerKernel('permute', 'cpu', cpuPermute);
registerKernel('gather', 'cpu', cpuGather);
registerKernel('scatterAdd', 'cpu', cpuScatterAdd);
registerKernel('copyBox', 'cpu', cpuCopyBox);
registerKernel('softmax', 'cpu', cpuSoftmax);
registerKernel('causalSoftmax', 'cpu', cpuCausalSoftmax);
registerKernel('softmaxVjp', 'cpu', cpuSoftmaxVjp);
registerKernel('logSoftmaxVjp', 'cpu', cpuLogSoftmaxVjp);
registerKernel('geluVjp', 'cpu', cpuGeluVjp);
registerKernel('geluExp', 'cpu', cpuGeluExp);
registerKernel('geluSecond', 'cpu', cpuGeluSecond);
registerKernel('tanhVjp', 'cpu', cpuTanhVjp);
registerKernel('normalize', 'cpu', cpuNormalize);
registerKernel('layerNorm', 'cpu', cpuLayerNorm);
registerKernel('layerNormVjp', 'cpu', cpuLayerNormVjp);
registerKernel('addInto', 'cpu', addIntoLoop);
registerKernel('scaleInto', 'cpu', scaleIntoLoop);
registerKernel('addScaledInto', 'cpu', addScaledIntoLoop);
registerKernel('sumOfSquares', 'cpu', sumOfSquaresLoop);
registerKernel('allFinite', 'cpu', allFiniteLoop);
registerKernel('emaInto', 'cpu', emaIntoLoop);
registerKernel('sophiaGClip', 'cpu', sophiaGClipLoop);
registerKernel('sophiaHClip', 'cpu', sophiaHClipLoop);
registerKernel('adamMoments', 'cpu', cpuAdamMoments);
