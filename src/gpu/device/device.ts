/**
 * The asynchronous WebGPU device API: one Dawn device per process (held by the probe worker), data
 * uploaded once and kept on the device across a whole probe, only results read back.
 *
 * Kernels: gpu.js kernels (src/kernels/gpujs/sources.ts) built with `pipeline: true, immutable: true`
 * — every call returns a fresh device buffer, so earlier results are never overwritten — plus
 * hand-written WGSL on the same device (the tiled matmul, wgsl-matmul.ts). All data are
 * `DeviceArray`s: flat float32 buffers that any kernel here takes as input. (The device optimizer
 * updates, which no training path runs, are bench/device-updates.)
 *
 * Calls are ordered: each kernel submits its work at call time and WebGPU executes submits in order,
 * so a chain of calls needs no waiting; `download` waits for everything queued before it.
 *
 * The implementation is split by concern: core.ts (lifecycle, buffers, kernel and pipeline caches),
 * elementwise.ts, matmul.ts, and the probes in ../probes; this class is the public face.
 */
import type { BinaryOp, UnaryOp } from '../../kernels/registry.js';
import { GpuDeviceCore, type DeviceArray, type GpuDeviceOptions } from './core.js';
import * as ew from './elementwise.js';
import { matmul, type DeviceMatmulOptions } from './matmul.js';
import {
  mlpHutchinsonProbe,
  type MlpHutchinsonProbeOptions,
  type MlpHutchinsonProbeResult,
} from '../probes/mlp-hutchinson.js';
import { mlpGnbProbe, type MlpGnbProbeOptions, type MlpGnbProbeResult } from '../probes/mlp-gnb.js';

export { DeviceArray, type GpuDeviceOptions, type MatmulImpl, checkSize, need } from './core.js';
export type { DeviceMatmulOptions } from './matmul.js';
export { mlpParamCount, type MlpGnbProbeOptions, type MlpGnbProbeResult } from '../probes/mlp-gnb.js';
export type { MlpHutchinsonProbeOptions, MlpHutchinsonProbeResult } from '../probes/mlp-hutchinson.js';
export { to3d } from '../../kernels/gpujs/shape.js';

export class GpuDevice extends GpuDeviceCore {
  /** Opens the process's WebGPU device; throws with the reason when no adapter answers. */
  static async open(options: GpuDeviceOptions = {}): Promise<GpuDevice> {
    const { adapter, context } = await GpuDeviceCore.acquire(options);
    return new GpuDevice(adapter, context, options);
  }

  /** Elementwise unary op over the first `length` elements. */
  async unary(op: UnaryOp, x: DeviceArray, param = 0, length = x.length): Promise<DeviceArray> {
    return ew.unary(this, op, x, param, length);
  }

  /**
   * Elementwise binary op with broadcasting: `shape` is the output shape (rank ≤ 3 after collapsing),
   * strides per output dim for each input, 0 where it broadcasts. Without shape/strides both inputs
   * are flat arrays of the same length.
   */
  async binary(
    op: BinaryOp,
    a: DeviceArray,
    b: DeviceArray,
    shape?: readonly number[],
    aStrides?: readonly number[],
    bStrides?: readonly number[],
  ): Promise<DeviceArray> {
    return ew.binary(this, op, a, b, shape, aStrides, bStrides);
  }

  /** Adds a row vector (length cols) to every row of x [rows, cols]. */
  async addRowVector(x: DeviceArray, v: DeviceArray, rows: number, cols: number): Promise<DeviceArray> {
    return this.binary('add', x, v, [rows, cols], [cols, 1], [0, 1]);
  }

  /** cond ? a : b elementwise (cond nonzero = true), broadcasting as `binary`. */
  async where(
    cond: DeviceArray,
    a: DeviceArray,
    b: DeviceArray,
    shape?: readonly number[],
    strides?: { cond?: readonly number[]; a?: readonly number[]; b?: readonly number[] },
  ): Promise<DeviceArray> {
    return ew.where(this, cond, a, b, shape, strides);
  }

  /** Sum or max of each row of x [rows, cols]: [rows]. */
  async reduceRows(op: 'sum' | 'max', x: DeviceArray, rows: number, cols: number): Promise<DeviceArray> {
    return ew.reduceRows(this, op, x, rows, cols);
  }

  /** Sum over the rows of x [rows, cols]: [cols]. */
  async sumCols(x: DeviceArray, rows: number, cols: number): Promise<DeviceArray> {
    return ew.sumCols(this, x, rows, cols);
  }

  /** log-sum-exp of each row of logits [rows, classes]. */
  async logSumExpRows(logits: DeviceArray, rows: number, classes: number): Promise<DeviceArray> {
    return ew.logSumExpRows(this, logits, rows, classes);
  }

  /** scale·(softmax(logits) − onehot(labels)) [rows, classes], given the rows' log-sum-exp. */
  async softmaxXentGrad(
    logits: DeviceArray,
    lse: DeviceArray,
    labels: DeviceArray,
    rows: number,
    classes: number,
    scale: number,
  ): Promise<DeviceArray> {
    return ew.softmaxXentGrad(this, logits, lse, labels, rows, classes, scale);
  }

  /** One class per row drawn from softmax(logits) with the given uniforms (labels as floats). */
  async sampleLabels(
    logits: DeviceArray,
    uniforms: DeviceArray,
    rows: number,
    classes: number,
  ): Promise<DeviceArray> {
    return ew.sampleLabels(this, logits, uniforms, rows, classes);
  }

  /** Every `stride`-th element of x from `offset`, `length` of them (on the device). */

  // ---- matmul and the probe ----

  /** C = op(A)·op(B), [m, n] (or [batch, m, n]) row-major. */
  async matmul(a: DeviceArray, b: DeviceArray, o: DeviceMatmulOptions): Promise<DeviceArray> {
    return matmul(this, a, b, o);
  }

  /**
   * ĝ⊙ĝ for a tanh MLP, device-resident from input to estimate: forward (fused dense + tanh
   * kernels), log-sum-exp, labels sampled from the model's softmax with host-given uniforms (or given
   * labels), the mean cross-entropy's gradient backwards through every layer, squared in the kernels
   * that form it. Only the diagonal (and, on request, the labels) is read back.
   */
  async mlpGnbProbe(o: MlpGnbProbeOptions): Promise<MlpGnbProbeResult> {
    return mlpGnbProbe(this, o);
  }

  /**
   * Hutchinson's z ⊙ Hz for a tanh MLP, device-resident: the loss's gradient and, per direction, the
   * exact Hessian-vector product by the R-operator (forward R-pass, differentiated backward pass);
   * the directions' products averaged as src/curvature `hutchinsonDiag` does.
   */
  async mlpHutchinsonProbe(o: MlpHutchinsonProbeOptions): Promise<MlpHutchinsonProbeResult> {
    return mlpHutchinsonProbe(this, o);
  }
}
