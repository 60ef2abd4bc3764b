/**
 * The self-check a matmul backend passes before it becomes the default: its products against the CPU
 * reference on a few small transposed shapes, in float32 and float64, on NaN-poisoned outputs.
 */
import type { MatmulKernel, MatmulSpec } from '../registry.js';
import { cpuMatmul } from './matmul.js';

/** Relative max-norm difference of `kernel` from the CPU reference on a few transposed products. */
export function selfCheck(kernel: MatmulKernel): { f32: number; f64: number } {
  const result = { f32: 0, f64: 0 };
  let seed = 12345;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const Ctor of [Float32Array, Float64Array]) {
    for (const [m, n, k, transA, transB] of [
      [5, 9, 7, false, true],
      [13, 11, 6, true, false],
      [9, 17, 5, true, true],
      [6, 3, 10, false, false],
    ] as const) {
      const a = new Ctor(m * k).map(next);
      const b = new Ctor(n * k).map(next);
      const spec: MatmulSpec = {
        batch: 1,
        m,
        n,
        k,
        transA,
        transB,
        aOffsets: new Int32Array(1),
        bOffsets: new Int32Array(1),
      };
      const want = new Ctor(m * n);
      const got = new Ctor(m * n).fill(NaN);
      cpuMatmul(a, b, want, spec);
      kernel(a, b, got, spec);
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < want.length; i++) {
        const d = Math.abs(got[i] - want[i]);
        diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
        scale = Math.max(scale, Math.abs(want[i]));
      }
      const key = Ctor === Float32Array ? 'f32' : 'f64';
      result[key] = Math.max(result[key], diff / scale);
    }
  }
  return result;
}
