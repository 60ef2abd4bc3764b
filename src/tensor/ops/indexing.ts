/**
 * Row gather (embedding lookup) and its adjoint scatter-add. Each is the other's VJP, so both are
 * differentiable to any order. Indices are plain Int32Arrays: they are data, not differentiable.
 */
import { kernel } from '../../kernels/registry.js';
import { ShapeError, describeShape } from '../errors.js';
import { record } from '../graph.js';
import { type Shape, sizeOf } from '../shape.js';
import { Tensor, arrayFor, kernelOutput } from '../tensor.js';
import { expectTensor, output } from './common.js';
import { reshape } from './layout.js';

function checkIndices(op: string, indices: Int32Array, rows: number): void {
  if (!(indices instanceof Int32Array)) throw new TypeError(`${op}: indices must be an Int32Array`);
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (v < 0 || v >= rows)
      throw new RangeError(`${op}: index ${v} at position ${i} is out of range [0, ${rows})`);
  }
}

/**
 * Rows of `table` ([rows, ...rest]) at `indices`, shaped [...indexShape, ...rest].
 * `indexShape` defaults to [indices.length].
 */
export function gather(table: Tensor, indices: Int32Array, indexShape: Shape = [indices.length]): Tensor {
  expectTensor('gather', 'table', table);
  if (table.rank < 1)
    throw new ShapeError('gather', `table must have rank >= 1, got ${describeShape(table.shape)}`);
  if (sizeOf(indexShape) !== indices.length) {
    throw new ShapeError(
      'gather',
      `indexShape ${describeShape(indexShape)} does not match ${indices.length} indices`,
    );
  }
  const rows = table.shape[0];
  checkIndices('gather', indices, rows);
  const rest = table.shape.slice(1);
  const width = sizeOf(rest);
  const out = kernelOutput(table.dtype, indices.length * width);
  kernel('gather')(table.data, width, indices, out);
  const y = output('gather', out, [...indexShape, ...rest], [table]);
  return record(y, 'gather', [table], (g) => [
    reshape(scatterAdd(reshape(g, [indices.length, ...rest]), indices, rows), table.shape),
  ]);
}

/** out[indices[i]] += src[i]: src is [indices.length, ...rest], out is [rows, ...rest]. */
export function scatterAdd(src: Tensor, indices: Int32Array, rows: number): Tensor {
  expectTensor('scatterAdd', 'src', src);
  if (src.rank < 1 || src.shape[0] !== indices.length) {
    throw new ShapeError(
      'scatterAdd',
      `src ${describeShape(src.shape)} must have ${indices.length} rows, one per index`,
    );
  }
  checkIndices('scatterAdd', indices, rows);
  const rest = src.shape.slice(1);
  const width = sizeOf(rest);
  const out = arrayFor(src.dtype, rows * width);
  kernel('scatterAdd')(src.data, width, indices, out);
  const y = output('scatterAdd', out, [rows, ...rest], [src]);
  return record(y, 'scatterAdd', [src], (g) => [gather(g, indices)]);
}
