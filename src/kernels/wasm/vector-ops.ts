/**
 * WebAssembly SIMD versions of the coordinator's per-step passes over the flat float32 parameter
 * vector, each matching its JavaScript loop (the CPU reference in ../cpu/passes.ts, and the fallback):
 *   addInto        dst[i] = f32(dst[i] + src[i])      f32x4.add: one float32 add equals the loop's
 *                                                     float64 add rounded to float32 (53 ≥ 2·24 + 2)
 *   scaleInto      out[i] = f32(f · x[i])             f64x2.mul on widened values (f is a float64)
 *   addScaledInto  out[i] = f32(g[i] + wd · p[i])     f64x2.mul then f64x2.add, never fused
 *   sumOfSquares   Σ v[i]² in float64                 eight partial sums (see `sumOfSquaresLoop`)
 *   allFinite      no ±Infinity or NaN in v           Σ (v[i] − v[i]) in f32x4 is 0 exactly then
 * The first three are bit for bit the loop's (and the last two give its answers), subnormals included (f32 → f64 widening is exact, lane
 * arithmetic rounds like scalar IEEE arithmetic, f64 → f32 narrowing rounds to nearest like a
 * Float32Array store, nothing is flushed). Operands are copied into linear memory a chunk at a time,
 * so any Float32Array view works (any byteOffset, SharedArrayBuffer-backed) and memory stays small.
 * Registered (index.ts) and preferred only where the engine has SIMD and `vectorOpsSelfCheck` passes.
 */
import { FunctionBuilder, assembleModule } from './assembler.js';
import { type WasmMemory, instantiate, validates } from './api.js';
import {
  addIntoLoop,
  addScaledIntoLoop,
  allFiniteLoop,
  combine,
  scaleIntoLoop,
  sumOfSquaresLoop,
} from '../cpu/passes.js';
import type { VectorPassSignatures } from '../registry.js';
import { checkedOnce, worthwhileKernel } from './checked-kernel.js';
import { WasmKernelHost } from './kernel-host.js';

// --- The module -----------------------------------------------------------------------------------

/** Bytes per loop iteration (sixteen float32): the kernels take byte counts that are multiples of it. */
export const STEP = 64;

/**
 * The loop every kernel runs: `body(p, q)` for p = a, a + STEP, … < a + bytes with q = b + (p − a),
 * where params 0, 1, 2 are a, b and bytes (a multiple of STEP, ≥ STEP).
 */
export function stepLoop(f: FunctionBuilder, body: (p: number, q: number) => void): void {
  const [p, q, end] = [f.local('i32'), f.local('i32'), f.local('i32')];
  f.get(0).tee(p).get(2).add().set(end);
  f.get(1).set(q);
  f.loop(() => {
    body(p, q);
    f.get(q).i32(STEP).add().set(q);
    f.get(p).i32(STEP).add().tee(p).get(end).ltU().brIf(0);
  });
}

export const at = (offset: number, align: number) => ({ align, offset });
/** Byte offsets of the four f32x4 (or eight float32 pairs) of one step. */
const QUADS = [0, 16, 32, 48];
export const PAIRS = [0, 8, 16, 24, 32, 40, 48, 56];

/** a[i] += b[i] with f32x4.add. Params: a, b, bytes. */
function buildAdd(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32']);
  stepLoop(f, (p, q) => {
    for (const o of QUADS) {
      f.get(p); // store address, under the result
      f.get(p).simd('v128.load', at(o, 4));
      f.get(q).simd('v128.load', at(o, 4));
      f.simd('f32x4.add').simd('v128.store', at(o, 4));
    }
  });
  return f;
}

/**
 * a[i] = f32(c · a[i]) (scale) or a[i] = f32(a[i] + c · b[i]) (scaled add) with c a float64, a pair
 * of float32 at a time widened to an f64x2. Params: a, b, bytes, c.
 */
function buildScaled(withAdd: boolean): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'f64']);
  const c = f.local('v128');
  f.get(3).simd('f64x2.splat').set(c);
  stepLoop(f, (p, q) => {
    for (const o of PAIRS) {
      f.get(p); // store address, under the result
      f.get(c);
      f.get(withAdd ? q : p).simd('v128.load64_zero', at(o, 3));
      f.simd('f64x2.promote_low_f32x4').simd('f64x2.mul');
      if (withAdd) {
        f.get(p).simd('v128.load64_zero', at(o, 3)).simd('f64x2.promote_low_f32x4');
        f.simd('f64x2.add');
      }
      f.simd('f32x4.demote_f64x2_zero').lane('v128.store64_lane', 0, at(o, 3));
    }
  });
  return f;
}

/**
 * Adds the squares of the float32 at a to the eight partial sums at `acc` (four f64x2: the pair at
 * acc + 16j holds s[2j], s[2j + 1], so element i lands in s[i mod 8]). Params: a, acc, bytes.
 */
function buildSumOfSquares(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32']);
  const acc = 1;
  const sums = QUADS.map((o) => {
    const l = f.local('v128');
    f.get(acc).simd('v128.load', at(o, 3)).set(l);
    return l;
  });
  const x = f.local('v128');
  stepLoop(f, (p) => {
    PAIRS.forEach((o, k) => {
      const s = sums[k % 4];
      f.get(p).simd('v128.load64_zero', at(o, 3)).simd('f64x2.promote_low_f32x4').tee(x);
      f.get(x).simd('f64x2.mul').get(s).simd('f64x2.add').set(s);
    });
  });
  QUADS.forEach((o, j) => f.get(acc).get(sums[j]).simd('v128.store', at(o, 3)));
  return f;
}

/**
 * Adds a − a (0 for a finite float32, NaN for ±Infinity and NaN) into the four f32x4 at `acc`, in any
 * order (only whether a NaN arrives matters). Params: a, acc, bytes.
 */
function buildAllFinite(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32']);
  const acc = 1;
  const sums = QUADS.map((o) => {
    const l = f.local('v128');
    f.get(acc).simd('v128.load', at(o, 4)).set(l);
    return l;
  });
  const x = f.local('v128');
  stepLoop(f, (p) => {
    QUADS.forEach((o, k) => {
      f.get(p).simd('v128.load', at(o, 4)).tee(x).get(x).simd('f32x4.sub');
      f.get(sums[k]).simd('f32x4.add').set(sums[k]);
    });
  });
  QUADS.forEach((o, j) => f.get(acc).get(sums[j]).simd('v128.store', at(o, 4)));
  return f;
}

const moduleBytes = (): Uint8Array =>
  assembleModule([
    { name: 'add', fn: buildAdd() },
    { name: 'scale', fn: buildScaled(false) },
    { name: 'addScaled', fn: buildScaled(true) },
    { name: 'sumOfSquares', fn: buildSumOfSquares() },
    { name: 'allFinite', fn: buildAllFinite() },
  ]);

type PairFn = (a: number, b: number, bytes: number) => void;
type ScaledFn = (a: number, b: number, bytes: number, c: number) => void;

/** The eight partial sums (64 bytes) live here; the two regions follow. */
export const ACC_AT = 0;
export const A_AT = 64;
/** Elements per chunk: two regions of 64 KiB stay in the core's cache between copy and arithmetic. */
export const CHUNK = 16384;
export const B_AT = A_AT + CHUNK * 4;
export const roundUp = (bytes: number): number => Math.ceil(bytes / STEP) * STEP;

/** A host whose kernels run over two chunk-sized regions A and B (also used by sophia.ts). */
export class ChunkedKernelHost extends WasmKernelHost {
  /**
   * a[i] = a[i] op b[i] chunk by chunk: a's and b's chunk copied in, `run` over the rounded-up bytes
   * (lanes past the end hold stale values whose results are not copied out; `k` is the chunk's element
   * count), a's chunk copied to out. False (nothing written) when memory cannot grow.
   */
  protected pass(
    out: Float32Array,
    a: Float32Array,
    b: Float32Array | null,
    run: (bytes: number, k: number) => void,
  ): boolean {
    if (!this.ensure(B_AT + CHUNK * 4)) return false;
    const n = out.length;
    for (let s = 0; s < n; s += CHUNK) {
      const e = Math.min(n, s + CHUNK);
      this.f32.set(a.subarray(s, e), A_AT / 4);
      if (b) this.f32.set(b.subarray(s, e), B_AT / 4);
      run(roundUp((e - s) * 4), e - s);
      out.set(this.f32.subarray(A_AT / 4, A_AT / 4 + e - s), s);
    }
    return true;
  }
}

export class WasmVectorOps extends ChunkedKernelHost {
  private readonly addFn: PairFn;
  private readonly scaleFn: ScaledFn;
  private readonly addScaledFn: ScaledFn;
  private readonly sumFn: PairFn;
  private readonly finiteFn: PairFn;

  constructor() {
    const instance = instantiate(moduleBytes());
    super(instance.exports.memory as WasmMemory);
    this.addFn = instance.exports.add as PairFn;
    this.scaleFn = instance.exports.scale as ScaledFn;
    this.addScaledFn = instance.exports.addScaled as ScaledFn;
    this.sumFn = instance.exports.sumOfSquares as PairFn;
    this.finiteFn = instance.exports.allFinite as PairFn;
  }

  /** The module's bytes validate (false where the engine lacks WebAssembly or its SIMD). */
  static supported(): boolean {
    return validates(moduleBytes());
  }

  addInto(dst: Float32Array, src: Float32Array): boolean {
    return this.pass(dst, dst, src, (bytes) => this.addFn(A_AT, B_AT, bytes));
  }

  scaleInto(out: Float32Array, x: Float32Array, f: number): boolean {
    return this.pass(out, x, null, (bytes) => this.scaleFn(A_AT, A_AT, bytes, f));
  }

  addScaledInto(out: Float32Array, g: Float32Array, p: Float32Array, wd: number): boolean {
    return this.pass(out, g, p, (bytes) => this.addScaledFn(A_AT, B_AT, bytes, wd));
  }

  /** `sumOfSquaresLoop`'s sum; undefined when memory cannot grow. */
  sumOfSquares(v: Float32Array): number | undefined {
    if (!this.ensure(B_AT)) return undefined;
    const f64 = this.f64;
    f64.fill(0, ACC_AT / 8, ACC_AT / 8 + 8);
    const n = v.length;
    for (let s = 0; s < n; s += CHUNK) {
      const k = Math.min(n, s + CHUNK) - s;
      this.f32.set(v.subarray(s, s + k), A_AT / 4);
      // Zero squares pad the last step: adding +0 leaves every partial sum as it is.
      this.f32.fill(0, A_AT / 4 + k, A_AT / 4 + roundUp(k * 4) / 4);
      this.sumFn(A_AT, ACC_AT, roundUp(k * 4));
    }
    return combine(f64.subarray(ACC_AT / 8, ACC_AT / 8 + 8));
  }

  /** `allFiniteLoop`'s answer; undefined when memory cannot grow. */
  allFinite(v: Float32Array): boolean | undefined {
    if (!this.ensure(B_AT)) return undefined;
    const f32 = this.f32;
    f32.fill(0, ACC_AT / 4, ACC_AT / 4 + 16);
    const n = v.length;
    for (let s = 0; s < n; s += CHUNK) {
      const k = Math.min(n, s + CHUNK) - s;
      f32.set(v.subarray(s, s + k), A_AT / 4);
      // Zeros pad the last step (0 − 0 adds nothing).
      f32.fill(0, A_AT / 4 + k, A_AT / 4 + roundUp(k * 4) / 4);
      this.finiteFn(A_AT, ACC_AT, roundUp(k * 4));
    }
    for (let i = ACC_AT / 4; i < ACC_AT / 4 + 16; i++) if (f32[i] !== 0) return false;
    return true;
  }
}

// --- Self-check and the registry backends ---------------------------------------------------------

/** The kernel methods the self-check exercises (a WasmVectorOps, or a deliberately broken stand-in). */
export interface VectorOpsKernel {
  addInto(dst: Float32Array, src: Float32Array): boolean;
  scaleInto(out: Float32Array, x: Float32Array, f: number): boolean;
  addScaledInto(out: Float32Array, g: Float32Array, p: Float32Array, wd: number): boolean;
  sumOfSquares(v: Float32Array): number | undefined;
  allFinite(v: Float32Array): boolean | undefined;
}

/**
 * fl64(c·7) = 2^-24 + 2^-53 exactly while c·7 is a little more: the unfused 1 + c·7 is a float64 tie
 * that rounds to the float32 tie 1 + 2^-24 (→ 1); a fused multiply-add rounds above it (→ 1 + 2^-23).
 */
export const FUSED_TIE = 8.514949269487561e-9;

export const sameValues = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

/**
 * True when the kernel's three elementwise passes equal their loops (Object.is on every element) and
 * its sum of squares equals `sumOfSquaresLoop`'s, on lengths 1–3, odd and even, with ±0, subnormals,
 * huge values, ±Infinity and NaN, in place and into a separate array.
 */
export function vectorOpsSelfCheck(k: VectorOpsKernel): boolean {
  let seed = 31415;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const specials = [0, -0, 1e-45, -1e-45, 1.1e-38, 3.4e38, -3.4e38, Infinity, -Infinity, NaN];
  const vector = (n: number, at: number): Float32Array => {
    const v = new Float32Array(n).map(() => next() * 2 ** (next() * 140));
    for (let i = at; i < n; i += 5) v[i] = specials[(i + at) % specials.length];
    return v;
  };
  for (const n of [1, 2, 3, 8, 37, 130]) {
    const [x, y] = [vector(n, 0), vector(n, 2)];
    // With c = FUSED_TIE, 1 + c·7 rounds differently through a fused multiply-add.
    if (n > 4) [x[n - 2], y[n - 2]] = [1, 7];
    for (const c of [-1e-3 * Math.PI, 0.1, 3e38, -0, FUSED_TIE]) {
      const cases: [(o: Float32Array) => void, (o: Float32Array) => boolean, Float32Array][] = [
        [(o) => addIntoLoop(o, y), (o) => k.addInto(o, y), x],
        [(o) => scaleIntoLoop(o, x, c), (o) => k.scaleInto(o, x, c), new Float32Array(n)],
        [(o) => scaleIntoLoop(o, o, c), (o) => k.scaleInto(o, o, c), x],
        [(o) => addScaledIntoLoop(o, x, y, c), (o) => k.addScaledInto(o, x, y, c), new Float32Array(n)],
        [(o) => addScaledIntoLoop(o, o, y, c), (o) => k.addScaledInto(o, o, y, c), x],
      ];
      for (const [loop, kernel, start] of cases) {
        const [want, got] = [start.slice(), start.slice()];
        loop(want);
        if (!kernel(got) || !sameValues(got, want)) return false;
      }
    }
    // Values of one scale too, where the order of the additions shows in the last bits.
    const finite = x.map((v) => (Number.isFinite(v) ? v : 1));
    for (const v of [x, finite, x.map(next)]) {
      if (!Object.is(k.sumOfSquares(v), sumOfSquaresLoop(v))) return false;
      if (k.allFinite(v) !== allFiniteLoop(v)) return false;
    }
    // One non-finite value anywhere, the last element included, among finite ones.
    for (const bad of [Infinity, -Infinity, NaN]) {
      for (const i of [0, n >> 1, n - 1]) {
        const v = finite.slice();
        v[i] = bad;
        if (k.allFinite(v) !== false || allFiniteLoop(v) !== false) return false;
      }
    }
  }
  return true;
}

/**
 * Below this many elements the copies and calls (about 0.5 µs) cost more than the loop saves: on Node 20
 * the kernels overtook the loops between 64 and 256 elements.
 */
export const MIN_WASM_VECTOR = 256;

/** The kernel, built and self-checked on first call; null where it is unavailable or fails the check. */
export const vectorOpsKernel = checkedOnce(
  WasmVectorOps.supported,
  () => new WasmVectorOps(),
  vectorOpsSelfCheck,
);

/**
 * The registry backends over a built kernel: the kernel where it is worthwhile (at least
 * MIN_WASM_VECTOR elements, no partly overlapping views), else the CPU reference's loop.
 */
export function vectorOpsBackends(
  k: VectorOpsKernel,
): Pick<VectorPassSignatures, 'addInto' | 'scaleInto' | 'addScaledInto' | 'sumOfSquares' | 'allFinite'> {
  const use = (n: number, ...views: Float32Array[]) => worthwhileKernel(() => k, MIN_WASM_VECTOR, n, views);
  return {
    addInto: (dst, src) => {
      if (!use(dst.length, dst, src)?.addInto(dst, src)) addIntoLoop(dst, src);
    },
    scaleInto: (out, x, f) => {
      if (!use(out.length, out, x)?.scaleInto(out, x, f)) scaleIntoLoop(out, x, f);
    },
    addScaledInto: (out, g, p, wd) => {
      if (!use(out.length, out, g, p)?.addScaledInto(out, g, p, wd)) addScaledIntoLoop(out, g, p, wd);
    },
    sumOfSquares: (v) => use(v.length)?.sumOfSquares(v) ?? sumOfSquaresLoop(v),
    allFinite: (v) => use(v.length)?.allFinite(v) ?? allFiniteLoop(v),
  };
}
