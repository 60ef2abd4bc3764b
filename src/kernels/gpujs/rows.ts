/**
 * Synchronous gpu.js forms of the registry's row-wise kernels — softmax, causalSoftmax, softmaxVjp,
 * logSoftmaxVjp, layerNorm, layerNormVjp — and of geluVjp and geluExp, registered by
 * `registerGpuJsKernels` (sync.ts). Each runs its row statistics as one kernel (a thread per row)
 * and then the elementwise pass (a thread per element); sources are in rows-sources.ts.
 *
 * gpu.js computes in float32, so these hold the contracts to float32 rounding, not bit for bit:
 * in particular logSoftmaxVjp's row sum is a float32 sum (the registry asks a backend to match
 * cpuSum's float64 accumulators and expForFloat32 exactly, which gpu.js cannot), which is one
 * reason none of these is ever the preferred backend. Calls that cannot run in float32 at all go to
 * the CPU reference: float64 arrays, empty shapes, a causal softmax whose rows are not whole
 * [cols, cols] blocks, and every geluExp (see below).
 */
import { kernelFor, type KernelSignatures } from '../registry.js';
import type { FloatArray } from '../arrays.js';
import { reduceRowsSource, sumColsSource, type KernelSource } from './sources.js';
import {
  colDotSource,
  geluVjpSource,
  layerNormDxSource,
  layerNormSource,
  logSoftmaxVjpSource,
  rowDotSource,
  rowExpSumSource,
  rowGainMeanSource,
  rowMaxSource,
  rowMeanSource,
  rowRstdSource,
  softmaxSource,
  softmaxVjpSource,
} from './rows-sources.js';
import type { SyncGpuJs } from './sync.js';

type RowKernelName =
  | 'softmax'
  | 'causalSoftmax'
  | 'softmaxVjp'
  | 'logSoftmaxVjp'
  | 'layerNorm'
  | 'layerNormVjp'
  | 'geluExp'
  | 'geluVjp';
export type GpuJsRowKernels = { [K in RowKernelName]: KernelSignatures[K] };

const SRC = {
  max: rowMaxSource(false),
  causalMax: rowMaxSource(true),
  expSum: rowExpSumSource(false, false),
  logExpSum: rowExpSumSource(false, true),
  causalExpSum: rowExpSumSource(true, false),
  softmax: softmaxSource(false, false),
  logSoftmax: softmaxSource(false, true),
  causalSoftmax: softmaxSource(true, false),
  dot: rowDotSource(),
  softmaxVjp: softmaxVjpSource(),
  rowSum: reduceRowsSource('sum'),
  logSoftmaxVjp: logSoftmaxVjpSource(),
  mean: rowMeanSource(),
  rstd: rowRstdSource(),
  xhat: layerNormSource(false),
  y: layerNormSource(true),
  gainMean: rowGainMeanSource(false),
  gainXhatMean: rowGainMeanSource(true),
  dx: layerNormDxSource(),
  colDot: colDotSource(),
  colSum: sumColsSource(),
  geluVjp: geluVjpSource(),
};

const f32 = (...xs: FloatArray[]): boolean => xs.every((x) => x instanceof Float32Array);

/** `run` where `usable` holds for a call's arguments, else the CPU reference on the same arguments. */
function orReference<K extends RowKernelName>(
  name: K,
  usable: (...args: Parameters<KernelSignatures[K]>) => boolean,
  run: (...args: Parameters<KernelSignatures[K]>) => void,
): KernelSignatures[K] {
  const reference = kernelFor(name, 'cpu')! as (...args: Parameters<KernelSignatures[K]>) => void;
  const kernel = (...args: Parameters<KernelSignatures[K]>): void =>
    usable(...args) ? run(...args) : reference(...args);
  return kernel as KernelSignatures[K];
}

export function gpuJsRowKernels(gpu: SyncGpuJs): GpuJsRowKernels {
  /** A row statistic as a flat array, the form the next kernel reads it in. */
  const stat = (src: KernelSource, output: number[], args: unknown[], n: number): Float32Array => {
    const s = new Float32Array(n);
    gpu.runInto(src, output, args, s);
    return s;
  };

  return {
    softmax: orReference(
      'softmax',
      (x, rows, cols, out) => rows * cols > 0 && f32(x, out),
      (x, rows, cols, out, log) => {
        const m = stat(SRC.max, [rows], [x, cols], rows);
        const s = stat(log ? SRC.logExpSum : SRC.expSum, [rows], [x, m, cols], rows);
        gpu.runInto(log ? SRC.logSoftmax : SRC.softmax, [cols, rows], [x, m, s, cols], out);
      },
    ),

    // The causal kernels index rows as (block, row in block) to avoid `%`; rows that are not whole
    // blocks have no such output shape.
    causalSoftmax: orReference(
      'causalSoftmax',
      (x, rows, cols, out) => rows * cols > 0 && rows % cols === 0 && f32(x, out),
      (x, rows, cols, out) => {
        const blocks = rows / cols;
        const m = stat(SRC.causalMax, [cols, blocks], [x, cols], rows);
        const s = stat(SRC.causalExpSum, [cols, blocks], [x, m, cols], rows);
        gpu.runInto(SRC.causalSoftmax, [cols, cols, blocks], [x, m, s, cols], out);
      },
    ),

    softmaxVjp: orReference(
      'softmaxVjp',
      (y, g, rows, cols, out) => rows * cols > 0 && f32(y, g, out),
      (y, g, rows, cols, out) => {
        const dot = stat(SRC.dot, [rows], [y, g, cols], rows);
        gpu.runInto(SRC.softmaxVjp, [cols, rows], [y, g, dot, cols], out);
      },
    ),

    logSoftmaxVjp: orReference(
      'logSoftmaxVjp',
      (y, g, rows, cols, out) => rows * cols > 0 && f32(y, g, out),
      (y, g, rows, cols, out) => {
        const s = stat(SRC.rowSum, [rows], [g, cols], rows);
        gpu.runInto(SRC.logSoftmaxVjp, [cols, rows], [y, g, s, cols], out);
      },
    ),

    layerNorm: orReference(
      'layerNorm',
      (x, rows, cols, _eps, gain, bias, y, xhat, rstd) =>
        rows * cols > 0 && f32(x, gain, bias, y, xhat, rstd),
      (x, rows, cols, eps, gain, bias, y, xhat, rstd) => {
        const mean = stat(SRC.mean, [rows], [x, cols], rows);
        const r = stat(SRC.rstd, [rows], [x, mean, cols, eps], rows);
        rstd.set(r);
        gpu.runInto(SRC.xhat, [cols, rows], [x, mean, r, gain, bias, cols], xhat);
        gpu.runInto(SRC.y, [cols, rows], [x, mean, r, gain, bias, cols], y);
      },
    ),

    layerNormVjp: orReference(
      'layerNormVjp',
      (g, xhat, rstd, gain, rows, cols, dx, dgain, dbias) =>
        rows * cols > 0 && f32(g, xhat, rstd, gain, dx, dgain, dbias),
      (g, xhat, rstd, gain, rows, cols, dx, dgain, dbias) => {
        const mg = stat(SRC.gainMean, [rows], [g, xhat, gain, cols], rows);
        const mgx = stat(SRC.gainXhatMean, [rows], [g, xhat, gain, cols], rows);
        gpu.runInto(SRC.dx, [cols, rows], [g, xhat, rstd, gain, mg, mgx, cols], dx);
        gpu.runInto(SRC.colDot, [cols], [g, xhat, rows, cols], dgain);
        gpu.runInto(SRC.colSum, [cols], [g, rows, cols], dbias);
      },
    ),

    // Always the CPU reference: the saved exponentials are a float64 side output that geluVjp may use
    // in place of recomputing them and must then give the same result, so they have to be the
    // reference's float64 values, not float32 ones. Computing them is the whole cost of the forward
    // (the GELU is then one division), so nothing is left to run in gpu.js.
    geluExp: kernelFor('geluExp', 'cpu')!,

    // The saved exponentials `e` are not read: recomputing them from x gives the same result with or
    // without them, as the contract requires.
    geluVjp: orReference(
      'geluVjp',
      (x, g, out) => out.length > 0 && f32(x, g, out),
      (x, g, out) => gpu.runInto(SRC.geluVjp, [out.length], [x, g], out),
    ),
  };
}
