/**
 * The 'blas' backend of the 'addInto' pass (dst += src over the flat parameter vector: applying an
 * update, summing shard gradients), on the arrays' own memory: cblas_saxpy with α = 1. 1·src is exact,
 * so each element is one float32 add of the two values, the same bits as the reference's loop whether
 * the library fuses the multiply-add or not. The WebAssembly pass copies both operands into its linear
 * memory and the result out, which costs more than its arithmetic: at 269k elements (the MLP's
 * parameters, warm caches, on the 2-vCPU EPYC of bench/readings) saxpy took 27 µs against its 115.
 *
 * sscal is not used for 'scaleInto': it multiplies by f rounded to float32, one rounding more than
 * the pass's contract (f32(f·x) with f a float64), which the optimizers' tests hold bit for bit.
 *
 * Below MIN_BLAS_PASS elements and on partly overlapping views, the backend preferred before runs.
 */
import { addIntoLoop } from '../cpu/passes.js';
import type { VectorPassSignatures } from '../registry.js';
import { overlapsPartly } from '../wasm/checked-kernel.js';

/** cblas_saxpy (library.ts binds it). */
export type Saxpy = (
  n: number,
  alpha: number,
  x: Float32Array,
  incx: number,
  y: Float32Array,
  incy: number,
) => void;

/** Below this many elements the foreign call costs more than the other backends' whole pass. */
export const MIN_BLAS_PASS = 4096;

type AddInto = VectorPassSignatures['addInto'];

export function blasAddInto(saxpy: Saxpy, before: AddInto): AddInto {
  return (dst, src) => {
    if (dst.length < MIN_BLAS_PASS || overlapsPartly(dst, src)) before(dst, src);
    else saxpy(dst.length, 1, src, 1, dst, 1);
  };
}

/**
 * The self-check at registration: equal to the loop bit for bit, signed zeros, subnormals, infinities,
 * NaN and overflow included, and with dst = src.
 */
export function blasAddIntoSelfCheck(addInto: AddInto): boolean {
  const n = MIN_BLAS_PASS + 37;
  let seed = 2718;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const a = new Float32Array(n).map(() => next() * 2 ** (next() * 30));
  const b = new Float32Array(n).map(() => next() * 2 ** (next() * 30));
  a.set([0, -0, 0, -0, 1e-45, -3e-39, Infinity, NaN, 3e38]);
  b.set([0, -0, -0, 0, 1e-45, 1e-39, -1, 1, 3e38]);
  const same = (x: Float32Array, y: Float32Array) => Buffer.from(x.buffer).equals(Buffer.from(y.buffer));
  const want = a.slice();
  addIntoLoop(want, b);
  const got = a.slice();
  addInto(got, b);
  const twice = a.slice();
  addInto(twice, twice);
  const wantTwice = a.slice();
  addIntoLoop(wantTwice, wantTwice);
  return same(got, want) && same(twice, wantTwice);
}
