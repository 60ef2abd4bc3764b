/**
 * WebAssembly SIMD versions of Sophia's per-step passes over the flat float32 vectors, each matching
 * its JavaScript loop (the CPU reference in ../cpu/passes.ts, and the fallback) bit for bit:
 *   emaInto          out[i] = f32(b·a[i] + c·x[i])                 two f64x2.mul then f64x2.add, never fused
 *   sophiaGClipInto  out[i] = f32(sign(m)·min(|m|/(s·h + eps), 1))  returns #{ratio < 1}
 *   sophiaHClipInto  u = m/bc1/max(γ·h, eps); out[i] = f32(min(max(u, −clip), clip))  returns #{|u| < clip}
 * Each pair of float32 is widened exactly to an f64x2, every lane operation rounds as the loop's scalar
 * float64 operation does (no fused multiply-add, correctly rounded division, f64x2.min/max with
 * JavaScript's NaN and ±0 rules), and the f64 → f32 narrowing rounds like a Float32Array store. Operands
 * go through vector-ops.ts's chunked regions, so any Float32Array view works (any byteOffset,
 * SharedArrayBuffer-backed, out the same view as an input). Registered (index.ts) and preferred only
 * where the engine has SIMD and `sophiaSelfCheck` passes.
 */
import { FunctionBuilder, assembleModule, uleb } from './assembler.js';
import { type WasmMemory, instantiate, validates } from './api.js';
import { emaIntoLoop, sophiaGClipLoop, sophiaHClipLoop } from '../cpu/passes.js';
import type { VectorPassSignatures } from '../registry.js';
import { checkedOnce, worthwhileKernel } from './checked-kernel.js';
import {
  A_AT,
  ACC_AT,
  B_AT,
  CHUNK,
  ChunkedKernelHost,
  FUSED_TIE,
  PAIRS,
  at,
  sameValues,
  stepLoop,
} from './vector-ops.js';

// --- The module -----------------------------------------------------------------------------------

/** SIMD sub-opcodes the assembler's table lacks (after the 0xFD prefix, LEB128). */
const MORE_SIMD = {
  /** Lane-wise a < b as all-ones / all-zeros 64-bit masks (false for NaN). */
  'f64x2.lt': 0x49,
  'v128.xor': 0x51,
  'f64x2.abs': 0xec,
  'f64x2.neg': 0xed,
  /** NaN if either is NaN, −0 < +0: JavaScript's Math.min and Math.max. */
  'f64x2.min': 0xf4,
  'f64x2.max': 0xf5,
} as const;
const more = (f: FunctionBuilder, op: keyof typeof MORE_SIMD): FunctionBuilder =>
  f.op(0xfd, ...uleb(MORE_SIMD[op]));

/** Pushes the float32 pair at base + o widened to an f64x2. */
const widened = (f: FunctionBuilder, base: number, o: number): FunctionBuilder =>
  f.get(base).simd('v128.load64_zero', at(o, 3)).simd('f64x2.promote_low_f32x4');

/** Rounds the f64x2 on the stack to float32 and stores the pair at (address under it) + o. */
const storeNarrowed = (f: FunctionBuilder, o: number): FunctionBuilder =>
  f.simd('f32x4.demote_f64x2_zero').lane('v128.store64_lane', 0, at(o, 3));

/** The f64 params `params` splatted into v128 locals. */
const splats = (f: FunctionBuilder, params: number[]): number[] =>
  params.map((param) => {
    const l = f.local('v128');
    f.get(param).simd('f64x2.splat').set(l);
    return l;
  });

/** a[i] = f32(b·a[i] + c·x[i]) with x at the second region. Params: a, x, bytes, b, c. */
function buildEma(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'f64', 'f64']);
  const [b, c] = splats(f, [3, 4]);
  stepLoop(f, (p, q) => {
    for (const o of PAIRS) {
      f.get(p); // store address, under the result
      f.get(b);
      widened(f, p, o).simd('f64x2.mul');
      f.get(c);
      widened(f, q, o).simd('f64x2.mul');
      storeNarrowed(f.simd('f64x2.add'), o);
    }
  });
  return f;
}

/**
 * The count of one pass lives at `acc` as an i32x4: each counted element subtracts its lane's all-ones
 * mask, which adds 1 to two i32 lanes, so the four lanes sum to twice the count. `body(count)` emits
 * the loop; the accumulator is loaded before and stored after it.
 */
function counting(f: FunctionBuilder, acc: number, body: (count: number) => void): void {
  const count = f.local('v128');
  f.get(acc).simd('v128.load', at(0, 4)).set(count);
  body(count);
  f.get(acc).get(count).simd('v128.store', at(0, 4));
}

/** Adds the f64x2.lt mask of the two f64x2 pushed by `operands` to `count`. */
const countLess = (f: FunctionBuilder, count: number, operands: () => void): void => {
  f.get(count);
  operands();
  more(f, 'f64x2.lt').simd('i32x4.sub').set(count);
};

/**
 * m[i] = f32(sign(m)·min(|m|/(scale·h + eps), 1)) with h at the second region, counting ratio < 1.
 * sign(m)·r is r with its sign bit flipped by m's: multiplying by ±1 is exact, and where
 * Math.sign(m) is ±0 or NaN instead, r = 0/den is ±0 or NaN, whose product with ±0 or ±1 is
 * the same signed zero or a NaN. (Copying m's sign onto r instead is wrong for den < 0.)
 * Params: m, h, bytes, scale, eps, acc.
 */
function buildSophiaGClip(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'f64', 'f64', 'i32']);
  const [scale, eps] = splats(f, [3, 4]);
  const one = f.local('v128');
  const signBit = f.local('v128');
  f.f64(1).simd('f64x2.splat').set(one);
  f.f64(-0).simd('f64x2.splat').set(signBit);
  const [m, ratio] = [f.local('v128'), f.local('v128')];
  counting(f, 5, (count) =>
    stepLoop(f, (p, q) => {
      for (const o of PAIRS) {
        widened(f, p, o).set(m);
        more(f.get(m), 'f64x2.abs');
        f.get(scale);
        widened(f, q, o).simd('f64x2.mul').get(eps).simd('f64x2.add'); // two roundings, as in JS
        f.simd('f64x2.div').set(ratio);
        countLess(f, count, () => f.get(ratio).get(one));
        f.get(p); // store address, under the result
        f.get(ratio).get(one).simd('f64x2.pmin'); // 1 < r ? 1 : r, so a NaN r stays: Math.min(r, 1)
        more(f.get(m).get(signBit).simd('v128.and'), 'v128.xor');
        storeNarrowed(f, o);
      }
    }),
  );
  return f;
}

/**
 * m[i] = f32(min(max(u, −clip), clip)) with u = m/bc1/max(γ·h, eps) and h at the second region,
 * counting |u| < clip. Params: m, h, bytes, bc1, gamma, eps, clip, acc.
 */
function buildSophiaHClip(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'f64', 'f64', 'f64', 'f64', 'i32']);
  const [bc1, gamma, eps, clip] = splats(f, [3, 4, 5, 6]);
  const negClip = f.local('v128');
  more(f.get(clip), 'f64x2.neg').set(negClip);
  const u = f.local('v128');
  counting(f, 7, (count) =>
    stepLoop(f, (p, q) => {
      for (const o of PAIRS) {
        widened(f, p, o).get(bc1).simd('f64x2.div');
        f.get(gamma);
        more(widened(f, q, o).simd('f64x2.mul').get(eps), 'f64x2.max');
        f.simd('f64x2.div').set(u);
        countLess(f, count, () => more(f.get(u), 'f64x2.abs').get(clip));
        f.get(p); // store address, under the result
        more(f.get(u).get(negClip), 'f64x2.max').get(clip);
        storeNarrowed(more(f, 'f64x2.min'), o);
      }
    }),
  );
  return f;
}

const moduleBytes = (): Uint8Array =>
  assembleModule([
    { name: 'ema', fn: buildEma() },
    { name: 'clipG', fn: buildSophiaGClip() },
    { name: 'clipH', fn: buildSophiaHClip() },
  ]);

type EmaFn = (a: number, x: number, bytes: number, b: number, c: number) => void;
type ClipGFn = (m: number, h: number, bytes: number, scale: number, eps: number, acc: number) => void;
type ClipHFn = (
  m: number,
  h: number,
  bytes: number,
  bc1: number,
  gamma: number,
  eps: number,
  clip: number,
  acc: number,
) => void;

export class WasmSophia extends ChunkedKernelHost {
  private readonly emaFn: EmaFn;
  private readonly clipGFn: ClipGFn;
  private readonly clipHFn: ClipHFn;

  constructor() {
    const instance = instantiate(moduleBytes());
    super(instance.exports.memory as WasmMemory);
    this.emaFn = instance.exports.ema as EmaFn;
    this.clipGFn = instance.exports.clipG as ClipGFn;
    this.clipHFn = instance.exports.clipH as ClipHFn;
  }

  /** The module's bytes validate (false where the engine lacks WebAssembly or its SIMD). */
  static supported(): boolean {
    return validates(moduleBytes());
  }

  emaInto(out: Float32Array, a: Float32Array, x: Float32Array, b: number, c: number): boolean {
    return this.pass(out, a, x, (bytes) => this.emaFn(A_AT, B_AT, bytes, b, c));
  }

  /**
   * A counting pass: m's lanes past the chunk's end are NaN, which no comparison counts. Undefined
   * when memory cannot grow.
   */
  private counted(
    out: Float32Array,
    m: Float32Array,
    h: Float32Array,
    clip: (bytes: number) => void,
  ): number | undefined {
    if (!this.ensure(B_AT + CHUNK * 4)) return undefined;
    const count = new Int32Array(this.memory.buffer, ACC_AT, 4);
    count.fill(0);
    this.pass(out, m, h, (bytes, k) => {
      this.f32.fill(NaN, A_AT / 4 + k, A_AT / 4 + bytes / 4);
      clip(bytes);
    });
    return (count[0] + count[1] + count[2] + count[3]) / 2;
  }

  sophiaGClipInto(
    out: Float32Array,
    m: Float32Array,
    h: Float32Array,
    scale: number,
    eps: number,
  ): number | undefined {
    return this.counted(out, m, h, (bytes) => this.clipGFn(A_AT, B_AT, bytes, scale, eps, ACC_AT));
  }

  sophiaHClipInto(
    out: Float32Array,
    m: Float32Array,
    h: Float32Array,
    bc1: number,
    gamma: number,
    eps: number,
    clip: number,
  ): number | undefined {
    return this.counted(out, m, h, (bytes) => this.clipHFn(A_AT, B_AT, bytes, bc1, gamma, eps, clip, ACC_AT));
  }
}

// --- Self-check and the registry backends ---------------------------------------------------------

/** The kernel methods the self-check exercises (a WasmSophia, or a deliberately broken stand-in). */
export interface SophiaKernel {
  emaInto(out: Float32Array, a: Float32Array, x: Float32Array, b: number, c: number): boolean;
  sophiaGClipInto(
    out: Float32Array,
    m: Float32Array,
    h: Float32Array,
    scale: number,
    eps: number,
  ): number | undefined;
  sophiaHClipInto(
    out: Float32Array,
    m: Float32Array,
    h: Float32Array,
    bc1: number,
    gamma: number,
    eps: number,
    clip: number,
  ): number | undefined;
}

/**
 * fl64(s·7) = 2^-23 + 2^-53 exactly while s·7 is a little more: with eps = 1 the unfused s·7 + 1 is a
 * float64 tie that rounds to 1 + 2^-23 (a float32, so m = 1 + 2^-23 gives ratio exactly 1, not
 * counted); a fused multiply-add rounds above it and the ratio falls below 1 (counted).
 */
export const FUSED_DEN_TIE = 1.7029898523114795e-8;

/**
 * True when the kernel's three passes equal their loops (Object.is on every element, and the counts)
 * on lengths 1–130, in place and into a separate array, with ±0, subnormals, huge values, ±Infinity
 * and NaN in every operand, negative and zero h (signed-zero steps), ratios exactly 1, and ties that a
 * fused multiply-add rounds differently.
 */
export function sophiaSelfCheck(k: SophiaKernel): boolean {
  let seed = 16180;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const specials = [0, -0, 1e-45, -1e-45, 1.1e-38, 3.4e38, -3.4e38, Infinity, -Infinity, NaN, 1, -2];
  const vector = (n: number, at: number): Float32Array => {
    const v = new Float32Array(n).map(() => next() * 2 ** (next() * 140));
    for (let i = at; i < n; i += 3) v[i] = specials[(i + at) % specials.length];
    return v;
  };
  for (const n of [1, 2, 3, 8, 37, 130]) {
    const [a, x] = [vector(n, 0), vector(n, 1)];
    const [m, h] = [vector(n, 2), vector(n, 1)];
    if (n > 8) {
      // b·a + c·x where one product is a tie that a fused multiply-add rounds the other way (FUSED_TIE).
      [a[n - 2], x[n - 2], a[n - 3], x[n - 3]] = [1, 7, 7, 1];
      // ±0 over a negative, a zero and a NaN denominator; −2 over a negative one; an exact tie.
      m.set([0, -0, 0, -0, -0, -2, 1 + 2 ** -23, 2, -3], n - 9);
      h.set([-5, -3e-20, 0, -0, NaN, -1, 7, 1, 1e-30], n - 9);
    }
    for (const [b, c] of [
      [0.965, 1 - 0.965],
      [1, FUSED_TIE],
      [FUSED_TIE, 1],
      [-0, 3e38],
    ]) {
      const [want, got] = [new Float32Array(n), new Float32Array(n).fill(NaN)];
      emaIntoLoop(want, a, x, b, c);
      if (!k.emaInto(got, a, x, b, c) || !sameValues(got, want)) return false;
      const inPlace = a.slice();
      if (!k.emaInto(inPlace, inPlace, x, b, c) || !sameValues(inPlace, want)) return false;
    }
    // scale·h + eps = 1 + 1 and 7·FUSED_DEN_TIE + 1 give ratios of exactly 1 for m = 2 and 1 + 2^-23.
    for (const [scale, eps] of [
      [0.04 * 480, 1e-15],
      [1, 1],
      [FUSED_DEN_TIE, 1],
      [1e30, 0],
      [2.5, -1e-15],
    ]) {
      const [want, got] = [new Float32Array(n), new Float32Array(n).fill(NaN)];
      const wanted = sophiaGClipLoop(want, m, h, scale, eps);
      if (k.sophiaGClipInto(got, m, h, scale, eps) !== wanted || !sameValues(got, want)) return false;
    }
    for (const [bc1, gamma, eps, clip] of [
      [0.035, 0.01, 1e-12, 1],
      [1, 1, 0, 0.5],
      [0.5, 2, 3, 1e-3],
      [1e-30, 1e30, 1e-45, 3e38],
    ]) {
      const [want, got] = [new Float32Array(n), new Float32Array(n).fill(NaN)];
      const wanted = sophiaHClipLoop(want, m, h, bc1, gamma, eps, clip);
      if (k.sophiaHClipInto(got, m, h, bc1, gamma, eps, clip) !== wanted || !sameValues(got, want))
        return false;
    }
  }
  return true;
}

/**
 * Below this many elements the copies and calls cost about what the loops save: on Node 20 the kernels
 * overtook the loops between 64 and 128 elements (1.1–1.8x at 128, 1.5–4x at 256), as vector-ops'.
 */
export const MIN_WASM_SOPHIA = 256;

/** The kernel, built and self-checked on first call; null where it is unavailable or fails the check. */
export const sophiaKernel = checkedOnce(WasmSophia.supported, () => new WasmSophia(), sophiaSelfCheck);

/**
 * The registry backends over a built kernel: the kernel where it is worthwhile (at least
 * MIN_WASM_SOPHIA elements, no partly overlapping views), else the CPU reference's loop.
 */
export function sophiaBackends(
  k: SophiaKernel,
): Pick<VectorPassSignatures, 'emaInto' | 'sophiaGClip' | 'sophiaHClip'> {
  const use = (n: number, ...views: Float32Array[]) => worthwhileKernel(() => k, MIN_WASM_SOPHIA, n, views);
  return {
    emaInto: (out, a, x, b, c) => {
      if (!use(out.length, out, a, x)?.emaInto(out, a, x, b, c)) emaIntoLoop(out, a, x, b, c);
    },
    sophiaGClip: (out, m, h, scale, eps) =>
      use(out.length, out, m, h)?.sophiaGClipInto(out, m, h, scale, eps) ??
      sophiaGClipLoop(out, m, h, scale, eps),
    sophiaHClip: (out, m, h, bc1, gamma, eps, clip) =>
      use(out.length, out, m, h)?.sophiaHClipInto(out, m, h, bc1, gamma, eps, clip) ??
      sophiaHClipLoop(out, m, h, bc1, gamma, eps, clip),
  };
}
