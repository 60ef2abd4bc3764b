/**
 * gpu.js kernel source for the registry's `sum` and `max` reductions (run by reduce.ts).
 *
 * The reduction's collapsed layout (cpu/reduce.ts: alternating reduced and kept runs) is padded with
 * size-1 runs to [k0, r0, k1, r1] — kept, reduced, kept, reduced — which covers a full reduction, row
 * sums, column sums and a broadcast sumTo ([r, k, r]) with one source. One thread per output element
 * loops over both reduced runs; indices stay inline in the subscript (see sources.ts).
 */
import type { KernelSource } from './sources.js';

/**
 * Sum or max of x viewed as [k0, r0, k1, r1] over r0 and r1: output [k1, k0] (x = kept inner index,
 * y = kept outer index), which is the kept-dims output in row-major order. Args (x, r0, k1, r1).
 * Max skips NaN (`v > s`, from −∞) as cpuMax does, where Math.max would propagate it.
 */
export function reduceSource(op: 'sum' | 'max'): KernelSource {
  const init = op === 'sum' ? '0' : '-Infinity';
  const step = op === 'sum' ? 's += v;' : 'if (v > s) {\n        s = v;\n      }';
  const source = `function (x, r0, k1, r1) {
  let s = ${init};
  for (let i = 0; i < r0; i++) {
    for (let j = 0; j < r1; j++) {
      const v = x[((this.thread.y * r0 + i) * k1 + this.thread.x) * r1 + j];
      ${step}
    }
  }
  return s;
}`;
  return {
    key: `reduce4:${op}`,
    source,
    argumentTypes: { x: 'Array', r0: 'Integer', k1: 'Integer', r1: 'Integer' },
  };
}
