/**
 * y = x·wᵀ + b (a Linear layer: x [N, in], w [out, in] as PyTorch stores it, b [out]) as one op: the
 * registry's 'affine' kernel adds the bias to the fresh product (the WebAssembly backend as it copies
 * the product out), saving the separate broadcast add's output buffer and its pass over [N, out]. The VJP
 * is the composite's, in differentiable ops (matmuls and a column sum), so double backward works
 * through it.
 */
import { kernel } from '../../kernels/registry.js';
import { ShapeError, describeShape } from '../errors.js';
import { record } from '../graph.js';
import { Tensor, arrayFor, kernelOutput } from '../tensor.js';
import { commonDType, expectTensor, output } from './common.js';
import { sumTo } from './elementwise.js';
import { matmul } from './matmul.js';

export function affine(x: Tensor, w: Tensor, b: Tensor): Tensor {
  expectTensor('affine', 'x', x);
  expectTensor('affine', 'w', w);
  expectTensor('affine', 'b', b);
  commonDType('affine', [x, w, b]);
  if (
    x.rank !== 2 ||
    w.rank !== 2 ||
    b.rank !== 1 ||
    x.shape[1] !== w.shape[1] ||
    b.shape[0] !== w.shape[0]
  ) {
    throw new ShapeError(
      'affine',
      `needs x [N, in], w [out, in] and b [out]; got x ${describeShape(x.shape)}, w ${describeShape(w.shape)}, b ${describeShape(b.shape)}`,
    );
  }
  const [rows, k] = x.shape;
  const n = w.shape[0];
  const out = k > 0 ? kernelOutput(x.dtype, rows * n) : arrayFor(x.dtype, rows * n);
  kernel('affine')(x.data, w.data, b.data, out, rows, k, n);
  const y = output('affine', out, [rows, n], [x, w, b]);
  // C = x·wᵀ: dx = g·w, dw = gᵀ·x; db sums g over rows.
  return record(y, 'affine', [x, w, b], (g, needs) => [
    needs[0] ? matmul(g, w) : null,
    needs[1] ? matmul(g, x, { transA: true }) : null,
    needs[2] ? sumTo(g, b.shape) : null,
  ]);
}
