/**
 * Elementwise ops, broadcasting binaries, reductions and the softmax/cross-entropy pieces on the
 * device (gpu.js kernels). `GpuDevice` exposes these as methods.
 */
import type { BinaryOp, UnaryOp } from '../../kernels/registry.js';
import { checkSize, need, type DeviceArray, type GpuDeviceCore } from './core.js';
import {
  binarySource,
  logSumExpRowsSource,
  reduceRowsSource,
  sampleLabelsSource,
  softmaxXentGradSource,
  sumColsSource,
  unarySource,
  whereSource,
} from '../../kernels/gpujs/sources.js';
import { stridesOf } from '../../kernels/arrays.js';
import { outputOf, to3d } from '../../kernels/gpujs/shape.js';

export async function unary(
  dev: GpuDeviceCore,
  op: UnaryOp,
  x: DeviceArray,
  param: number,
  length: number,
): Promise<DeviceArray> {
  need('x', x, length);
  return dev.run(unarySource(op), [length], [x, param]);
}

export async function binary(
  dev: GpuDeviceCore,
  op: BinaryOp,
  a: DeviceArray,
  b: DeviceArray,
  shape?: readonly number[],
  aStrides?: readonly number[],
  bStrides?: readonly number[],
): Promise<DeviceArray> {
  const s = shape ?? [a.length];
  const [d, as, bs] = to3d(s, aStrides ?? stridesOf(s), bStrides ?? stridesOf(s));
  return dev.run(binarySource(op), outputOf(d), [a, b, ...as, ...bs]);
}

export async function where(
  dev: GpuDeviceCore,
  cond: DeviceArray,
  a: DeviceArray,
  b: DeviceArray,
  shape?: readonly number[],
  strides?: { cond?: readonly number[]; a?: readonly number[]; b?: readonly number[] },
): Promise<DeviceArray> {
  const s = shape ?? [a.length];
  const c = stridesOf(s);
  const [d, cs, as, bs] = to3d(s, strides?.cond ?? c, strides?.a ?? c, strides?.b ?? c);
  return dev.run(whereSource(), outputOf(d), [cond, a, b, ...cs, ...as, ...bs]);
}

export async function reduceRows(
  dev: GpuDeviceCore,
  op: 'sum' | 'max',
  x: DeviceArray,
  rows: number,
  cols: number,
): Promise<DeviceArray> {
  checkSize('cols', cols, 1);
  need('x', x, rows * cols);
  return dev.run(reduceRowsSource(op), [rows], [x, cols]);
}

export async function sumCols(
  dev: GpuDeviceCore,
  x: DeviceArray,
  rows: number,
  cols: number,
): Promise<DeviceArray> {
  checkSize('rows', rows, 1);
  need('x', x, rows * cols);
  return dev.run(sumColsSource(), [cols], [x, rows, cols]);
}

export async function logSumExpRows(
  dev: GpuDeviceCore,
  logits: DeviceArray,
  rows: number,
  classes: number,
): Promise<DeviceArray> {
  checkSize('classes', classes, 1);
  need('logits', logits, rows * classes);
  return dev.run(logSumExpRowsSource(), [rows], [logits, classes]);
}

export async function softmaxXentGrad(
  dev: GpuDeviceCore,
  logits: DeviceArray,
  lse: DeviceArray,
  labels: DeviceArray,
  rows: number,
  classes: number,
  scale: number,
): Promise<DeviceArray> {
  need('logits', logits, rows * classes);
  need('lse', lse, rows);
  need('labels', labels, rows);
  return dev.run(softmaxXentGradSource(), [classes, rows], [logits, lse, labels, classes, scale]);
}

export async function sampleLabels(
  dev: GpuDeviceCore,
  logits: DeviceArray,
  uniforms: DeviceArray,
  rows: number,
  classes: number,
): Promise<DeviceArray> {
  checkSize('classes', classes, 1);
  need('logits', logits, rows * classes);
  need('uniforms', uniforms, rows);
  return dev.run(sampleLabelsSource(), [rows], [logits, uniforms, classes]);
}
