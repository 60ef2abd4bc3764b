/** Registers the CPU reference of every kernel (before any other backend of the same kernels). */
import { registerKernel } from '../registry.js';
import { cpuBinary, cpuMax, cpuNormalize, cpuSoftmax, cpuSum, cpuUnary, cpuWhere } from './elementwise.js';
import { cpuCopyBox, cpuGather, cpuPermute, cpuScatterAdd } from './layout.js';
import { cpuMatmul } from './matmul.js';

registerKernel('binary', 'cpu', cpuBinary);
registerKernel('unary', 'cpu', cpuUnary);
registerKernel('where', 'cpu', cpuWhere);
registerKernel('sum', 'cpu', cpuSum);
registerKernel('max', 'cpu', cpuMax);
registerKernel('matmul', 'cpu', cpuMatmul);
registerKernel('permute', 'cpu', cpuPermute);
registerKernel('gather', 'cpu', cpuGather);
registerKernel('scatterAdd', 'cpu', cpuScatterAdd);
registerKernel('copyBox', 'cpu', cpuCopyBox);
registerKernel('softmax', 'cpu', cpuSoftmax);
registerKernel('normalize', 'cpu', cpuNormalize);
