/**
 * CPU reference reductions (sum, max). The input is contiguous and the output is its kept-dims shape
 * (stride 0 on reduced axes), so the reduction first collapses the layout: size-1 dims are dropped and
 * neighbouring dims that are both reduced, or both kept, merge into one. What remains alternates
 * reduced and kept runs — [R, K] for a bias gradient ([2048, 192] → [192]), [K, R] for row sums,
 * [R, K, R] for a broadcast sumTo — and the innermost run gets a tight loop: a scalar accumulator
 * when it is reduced (row sums), a vector accumulator over contiguous output slots when it is kept
 * (accumulating rows). Only the few outer runs go through an odometer.
 *
 * Accumulators are float64 and the result is rounded once, so float32 sums of long axes stay accurate.
 * Each kernel is generated with `new Function` from its combine expression so sum and max each get
 * their own monomorphic loops.
 */
import type { FloatArray } from '../arrays.js';
import type { ReduceKernel } from '../registry.js';

/** The collapsed layout: run sizes and output strides (0 = reduced), outermost first. */
export interface CollapsedReduce {
  readonly shape: number[];
  readonly outStrides: number[];
}

/**
 * Drops size-1 dims and merges neighbours of the same kind. Kept dims of a kept-dims output are
 * row-major, so two adjacent kept dims always merge (the outer stride is the inner stride × size).
 */
export function collapseReduce(shape: readonly number[], outStrides: readonly number[]): CollapsedReduce {
  const dims: number[] = [];
  const strides: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d];
    if (n === 1) continue;
    const s = outStrides[d];
    const last = dims.length - 1;
    if (last >= 0) {
      const ls = strides[last];
      if (ls === 0 && s === 0) {
        dims[last] *= n;
        continue;
      }
      if (ls !== 0 && s !== 0 && ls === s * n) {
        dims[last] *= n;
        strides[last] = s;
        continue;
      }
    }
    dims.push(n);
    strides.push(s);
  }
  return { shape: dims, outStrides: strides };
}

/** The combine step as source: the new running value from running value `a` and element `v`. */
type Combine = (a: string, v: string) => string;

function makeReduce(name: string, combine: Combine, init: string): ReduceKernel {
  const kernel = new Function(
    'x',
    'xShape',
    'out',
    'xOutStrides',
    'collapse',
    `
    const acc = new Float64Array(out.length).fill(${init});
    const n = x.length;
    if (n > 0) {
      const { shape, outStrides: os } = collapse(xShape, xOutStrides);
      const rank = shape.length;
      if (rank === 0) {
        // Every dim has size 1: one element into one slot.
        acc[0] = ${combine('acc[0]', 'x[0]')};
      } else {
        const inner = shape[rank - 1];
        const oi = os[rank - 1];
        const idx = new Int32Array(rank);
        let oo = 0, i = 0;
        while (i < n) {
          if (oi !== 0) {
            // Accumulate one contiguous row into output slots (contiguous for a kept-dims output).
            for (let j = 0, po = oo; j < inner; j++, po += oi) acc[po] = ${combine('acc[po]', 'x[i + j]')};
          } else {
            // Reduce one row into four registers (independent chains hide the add latency), then
            // into its slot.
            let a0 = ${init}, a1 = ${init}, a2 = ${init}, a3 = ${init};
            let j = 0;
            for (; j + 4 <= inner; j += 4) {
              a0 = ${combine('a0', 'x[i + j]')};
              a1 = ${combine('a1', 'x[i + j + 1]')};
              a2 = ${combine('a2', 'x[i + j + 2]')};
              a3 = ${combine('a3', 'x[i + j + 3]')};
            }
            for (; j < inner; j++) a0 = ${combine('a0', 'x[i + j]')};
            a0 = ${combine('a0', 'a1')};
            a2 = ${combine('a2', 'a3')};
            a0 = ${combine('a0', 'a2')};
            acc[oo] = ${combine('acc[oo]', 'a0')};
          }
          i += inner;
          for (let d = rank - 2; d >= 0; d--) {
            idx[d]++; oo += os[d];
            if (idx[d] < shape[d]) break;
            oo -= os[d] * shape[d]; idx[d] = 0;
          }
        }
      }
    }
    for (let k = 0; k < out.length; k++) out[k] = acc[k];
    //# sourceURL=hessflow-kernel-${name}.js`,
  ) as (
    x: FloatArray,
    shape: readonly number[],
    out: FloatArray,
    os: readonly number[],
    collapse: typeof collapseReduce,
  ) => void;
  return (x, shape, out, os) => kernel(x, shape, out, os, collapseReduce);
}

export const cpuSum = makeReduce('sum', (a, v) => `${a} + ${v}`, '0');
/** NaN never compares greater, so NaNs are skipped, as in the sequential loop this replaces. */
export const cpuMax = makeReduce('max', (a, v) => `(${v} > ${a} ? ${v} : ${a})`, '-Infinity');
