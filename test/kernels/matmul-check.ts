/**
 * Shared by the matmul kernel tests: deterministic operands, the comparison against the CPU reference,
 * and the cases every backend must pass. Also run as a script (by the relaxed-SIMD test, in a child
 * Node with relaxed SIMD switched on): it then prints one JSON line of per-case errors.
 */
import { cpuMatmul } from '../../src/kernels/cpu/matmul.js';
import type { MatmulKernel, MatmulSpec } from '../../src/kernels/registry.js';

export type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;
export type FloatArray = Float32Array | Float64Array;

/** Deterministic values in [-1, 1) from a seed (a 32-bit LCG: independent of other test helpers). */
export function values(Ctor: Ctor, n: number, seed: number): FloatArray {
  const out = new Ctor(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

export function spec(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  aOffsets = [0],
  bOffsets = [0],
): MatmulSpec {
  if (aOffsets.length !== bOffsets.length) throw new Error('spec: offsets differ in length');
  return {
    batch: aOffsets.length,
    m,
    n,
    k,
    transA,
    transB,
    aOffsets: Int32Array.from(aOffsets),
    bOffsets: Int32Array.from(bOffsets),
  };
}

/**
 * Largest error of `got` against `want` (the reference), each element relative to Σ_p |a_ip·b_pj|,
 * the scale of its terms (so cancellation does not inflate it). A non-finite or unwritten (NaN) element
 * counts as Infinity; a zero scale requires an exact match.
 */
export function relativeError(
  a: FloatArray,
  b: FloatArray,
  s: MatmulSpec,
  got: FloatArray,
  want: FloatArray,
): number {
  const scale = new Float64Array(want.length);
  const absA = Float64Array.from(a, Math.abs);
  const absB = Float64Array.from(b, Math.abs);
  cpuMatmul(absA, absB, scale, s);
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!Number.isFinite(got[i]) || Number.isNaN(d)) return Infinity;
    const e = scale[i] === 0 ? (d === 0 ? 0 : Infinity) : d / scale[i];
    if (e > worst) worst = e;
  }
  return worst;
}

/** Runs `kernel` into an output poisoned with NaN and returns its error against the CPU reference. */
export function compareToReference(
  kernel: MatmulKernel,
  a: FloatArray,
  b: FloatArray,
  s: MatmulSpec,
): number {
  const Ctor = a.constructor as Ctor;
  const want = new Ctor(s.batch * s.m * s.n);
  cpuMatmul(a, b, want, s);
  const got = new Ctor(s.batch * s.m * s.n).fill(NaN);
  kernel(a, b, got, s);
  return relativeError(a, b, s, got, want);
}

export const SIZES: readonly (readonly [number, number, number])[] = [
  [1, 1, 1],
  [5, 7, 3],
  [17, 33, 9],
  [129, 257, 65],
];
export const TRANSPOSES: readonly (readonly [boolean, boolean])[] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

/** Every size × transpose combination, single matrices. */
export function* singleCases(
  Ctor: Ctor,
): Generator<{ name: string; a: FloatArray; b: FloatArray; s: MatmulSpec }> {
  let seed = 1;
  for (const [m, n, k] of SIZES) {
    for (const [tA, tB] of TRANSPOSES) {
      yield {
        name: `${m}×${n}×${k} transA=${tA} transB=${tB}`,
        a: values(Ctor, m * k, seed++),
        b: values(Ctor, k * n, seed++),
        s: spec(m, n, k, tA, tB),
      };
    }
  }
}

// Script mode: errors of a freshly built WasmMatmul (fused where the engine allows) as JSON.
if (process.argv.includes('--matmul-check-json')) {
  const { WasmMatmul } = await import('../../src/kernels/wasm/matmul.js');
  const w = new WasmMatmul({ fused: true });
  const errors: Record<string, number> = {};
  for (const Ctor of [Float32Array, Float64Array]) {
    for (const c of singleCases(Ctor))
      errors[`${Ctor.name} ${c.name}`] = compareToReference(w.kernel, c.a, c.b, c.s);
  }
  const defaultFused = new WasmMatmul().fused;
  process.stdout.write(JSON.stringify({ fused: w.fused, defaultFused, errors }) + '\n');
}
