/**
 * Synchronous gpu.js forms of the registry's `sum` and `max` (ReduceKernel), registered by
 * `registerGpuJsKernels` (sync.ts).
 *
 * The input's layout is collapsed as the CPU reference collapses it (alternating reduced and kept
 * runs) and padded to the kernel's [k0, r0, k1, r1]. Layouts that do not fit — more than four runs
 * (e.g. [r, k, r, k]), or kept runs whose output strides are not the row-major kept-dims order —
 * go to the CPU reference, as do float64 arrays (gpu.js is float32 only) and empty inputs (nothing
 * to run a thread over; the reference fills the output with the reduction's identity).
 */
import { collapseReduce } from '../cpu/reduce.js';
import { kernelFor, type ReduceKernel } from '../registry.js';
import { reduceSource } from './reduce-source.js';
import type { SyncGpuJs } from './sync.js';

/** [k0, r0, k1, r1] for a reduction, or null when its collapsed layout has no such form. */
export function reduceRuns(xShape: readonly number[], outStrides: readonly number[]): number[] | null {
  const { shape, outStrides: os } = collapseReduce(xShape, outStrides);
  const runs = [1, 1, 1, 1];
  const strides = [1, 1, 1, 1];
  // Even slots are kept runs, odd slots reduced ones; a leading reduced run starts at slot 1.
  let slot = shape.length > 0 && os[0] === 0 ? 1 : 0;
  for (let d = 0; d < shape.length; d++, slot++) {
    if (slot > 3 || (os[d] === 0) !== (slot % 2 === 1)) return null;
    runs[slot] = shape[d];
    strides[slot] = os[d];
  }
  if ((runs[2] > 1 && strides[2] !== 1) || (runs[0] > 1 && strides[0] !== runs[2])) return null;
  return runs;
}

export function gpuJsReduce(g: SyncGpuJs, op: 'sum' | 'max'): ReduceKernel {
  const src = reduceSource(op);
  return (x, xShape, out, outStrides) => {
    if (out.length === 0) return;
    const runs =
      x.length > 0 && x instanceof Float32Array && out instanceof Float32Array
        ? reduceRuns(xShape, outStrides)
        : null;
    if (!runs) {
      kernelFor(op, 'cpu')!(x, xShape, out, outStrides);
      return;
    }
    const [k0, r0, k1, r1] = runs;
    g.runInto(src, [k1, k0], [x, r0, k1, r1], out);
  };
}
