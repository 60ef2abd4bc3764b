/**
 * Float32 Adam moments for `scaleByAdam` (src/optim/adam.ts): the 'adamMoments' kernel's 'wasm-f32'
 * backend, computed as PyTorch's Adam computes on a CPU — float32 arithmetic, four elements per f32x4
 * operation — instead of the exact backend's float64 (wasm/adam.ts). Per element, with every
 * constant rounded to float32 (B1 = f32(b1), C1 = f32(1 − b1), B2, C2 likewise, R1 = f32(1/bc1),
 * R2 = f32(1/bc2), E_r = f32(epsRoot), E = f32(eps)) and every operation a float32 one:
 *   m = B1·m0 + C1·g;  v = B2·v0 + (C2·g)·g;  u = (m·R1)/(√(v·R2 + E_r) + E)
 * the reference's formula shape (cpu/passes.ts adamMomentsLoop), its two divisions by bc1 and bc2
 * turned into multiplications by reciprocals. No fused multiply-add, nothing flushed to zero.
 *
 * Error against the float64 math (mu64 = b1·m0 + (1−b1)·g, nu64 = b2·v0 + (1−b2)·g², u64 from
 * those unrounded, all in float64 from the same float32 inputs), in units of 2^-24 (float32's unit
 * roundoff); each bound is the sum of the roundings on the way (constants included), the measured
 * worst is test/kernels/f32-adam.test.ts's over 10^6 elements (m0, g over 2^±20 of both signs,
 * five step counts, eps 0 and eps_root > 0):
 * - m: |m − mu64| ≤ 3·(b1|m0| + (1−b1)|g|), relative to the summands' magnitudes as for any float32
 *   sum (where b1·m0 and (1−b1)·g nearly cancel, m's own relative error is unbounded, as PyTorch's
 *   is). Measured 2.37 (the reference's single rounding to float32 alone is 0.5 of |mu64|).
 * - v: |v − nu64| ≤ 4·nu64 (both terms ≥ 0, no cancellation). Measured 3.24.
 * - u: |u − u64| ≤ 12·(|u64| + (b1|m0| + (1−b1)|g|)/bc1/(√(nu64/bc2 + epsRoot) + eps)), the second
 *   term carrying m's absolute error through. Measured 2.60.
 * Edges, as the reference: NaN in g, m0 or v0 gives NaN in what reads it; ±Inf in g gives m = ±Inf,
 * v = +Inf, u = NaN (Inf/Inf); eps 0 on a zero state gives u = 0/0 = NaN; −0 stays −0; subnormals are
 * kept (wasm does not flush them). Only past float32's range do the two part: where the reference's
 * float64 intermediates stay finite but float32 ones overflow (|m|/bc1 or (1−b2)·g² beyond 3.4e38),
 * this gives ±Inf or NaN where the reference may give a finite float32.
 *
 * Where the time goes at 269k parameters (the MLP's; bench/f32-adam-parts.ts): the three inputs copied
 * into wasm memory and the three results out, ~25 µs each; the arithmetic, ~0.6 ns per element; and,
 * when `allocate` hands out fresh arrays (no array pool: the Trainer), allocating them, which costs
 * more than the kernel. Wasm code can read and write only its own memory, so the copies stay.
 */
import { FunctionBuilder, assembleModule } from '../wasm/assembler.js';
import { type WasmMemory, instantiate, validates } from '../wasm/api.js';
import { WasmKernelHost, align64 } from '../wasm/kernel-host.js';
import { adamConstants, adamMomentsLoop } from '../cpu/passes.js';
import type { AdamConstants, AdamMomentsKernel, AllocateArray } from '../registry.js';
import { F32x4Lanes } from './f32x4-lanes.js';
import { f32KernelsEnabled, registerF32Kernel } from './register.js';

type MomentsFn = (
  g: number,
  mu: number,
  nu: number,
  out: number,
  bytes: number,
  b1: number,
  c1: number,
  b2: number,
  c2: number,
  r1: number,
  r2: number,
  epsRoot: number,
  eps: number,
) => void;

const V128 = { align: 4, offset: 0 };

/**
 * moments(g, mu, nu, out, bytes, constants…): four elements at a time over `bytes` (a multiple of 16,
 * ≥ 16), m and v read from and written back to the same regions. The constants come as float64
 * parameters and are rounded to float32 here.
 */
function buildMoments(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', ...Array<'f64'>(8).fill('f64')]);
  const [g, mu, nu, out, bytes] = [0, 1, 2, 3, 4];
  const lanes = new F32x4Lanes(f);
  const [cB1, cC1, cB2, cC2, cR1, cR2, cEpsRoot, cEps] = [5, 6, 7, 8, 9, 10, 11, 12].map((p) => {
    const l = f.local('v128');
    f.get(p);
    lanes.splatF64();
    f.set(l);
    return l;
  });
  const i = f.local('i32');
  const gv = f.local('v128');
  const m = f.local('v128');
  const v = f.local('v128');
  f.i32(0).set(i);
  f.loop(() => {
    f.get(g).get(i).add().simd('v128.load', V128).set(gv);
    // m = B1·m0 + C1·g
    f.get(mu).get(i).add(); // store address, under the result
    f.get(cB1).get(mu).get(i).add().simd('v128.load', V128).simd('f32x4.mul');
    f.get(cC1).get(gv).simd('f32x4.mul').simd('f32x4.add').tee(m).simd('v128.store', V128);
    // v = B2·v0 + (C2·g)·g
    f.get(nu).get(i).add();
    f.get(cB2).get(nu).get(i).add().simd('v128.load', V128).simd('f32x4.mul');
    f.get(cC2).get(gv).simd('f32x4.mul').get(gv).simd('f32x4.mul').simd('f32x4.add').tee(v);
    f.simd('v128.store', V128);
    // u = (m·R1)/(√(v·R2 + E_r) + E)
    f.get(out).get(i).add();
    f.get(m).get(cR1).simd('f32x4.mul');
    f.get(v).get(cR2).simd('f32x4.mul').get(cEpsRoot).simd('f32x4.add');
    lanes.op('f32x4.sqrt');
    f.get(cEps).simd('f32x4.add');
    lanes.op('f32x4.div');
    f.simd('v128.store', V128);
    f.get(i).i32(16).add().tee(i).get(bytes).ltU().brIf(0);
  });
  return f;
}

const moduleBytes = (): Uint8Array => assembleModule([{ name: 'moments', fn: buildMoments() }]);
/** Whole f32x4 groups, rounded up to 64 bytes: an n not a multiple of 4 computes (and drops) a few more lanes. */
const regionBytes = (n: number): number => align64(n * 4);
/** Regions start past 64 bytes of slack, as in the other kernels. */
const DATA_AT = 64;
/**
 * Elements per chunk: the four 32 KiB regions (g, m, v, u) stay in the core's L2 cache between the
 * copies in, the arithmetic and the copies out (whole 1 MB arrays at once took twice as long).
 */
const CHUNK = 8192;
/** Below this many elements the call and copies cost more than the loop's arithmetic. */
export const MIN_F32_ADAM = 64;

const allocateNew: AllocateArray = (n) => new Float32Array(n);

export class F32Adam extends WasmKernelHost {
  private readonly fn: MomentsFn;

  constructor() {
    const instance = instantiate(moduleBytes());
    super(instance.exports.memory as WasmMemory);
    this.fn = instance.exports.moments as MomentsFn;
  }

  /** The module's bytes validate (false where the engine lacks WebAssembly or its SIMD). */
  static supported(): boolean {
    return validates(moduleBytes());
  }

  /**
   * The 'adamMoments' kernel: below MIN_F32_ADAM elements, or where memory cannot grow that far, the
   * CPU reference's loop.
   */
  readonly kernel: AdamMomentsKernel = (g, mu0, nu0, c, allocate = allocateNew) => {
    const n = g.length;
    const [mu, nu, out] = [allocate(n), allocate(n), allocate(n)];
    if (n < MIN_F32_ADAM || !this.run(g, mu0, nu0, c, mu, nu, out))
      adamMomentsLoop(g, mu0, nu0, mu, nu, out, c);
    return { mu, nu, out };
  };

  /** Computes into mu, nu, out through wasm memory; false (nothing written) when memory cannot grow. */
  private run(
    g: Float32Array,
    mu0: Float32Array,
    nu0: Float32Array,
    c: AdamConstants,
    mu: Float32Array,
    nu: Float32Array,
    out: Float32Array,
  ): boolean {
    const n = g.length;
    const region = regionBytes(Math.min(n, CHUNK));
    const [gAt, muAt, nuAt, outAt] = [0, 1, 2, 3].map((k) => DATA_AT + k * region);
    if (!this.ensure(outAt + region)) return false;
    const f32 = this.f32;
    // Chunk by chunk, so the six regions stay in the core's cache between copy, arithmetic and copy.
    for (let s = 0; s < n; s += CHUNK) {
      const e = Math.min(n, s + CHUNK);
      const k = e - s;
      f32.set(g.subarray(s, e), gAt / 4);
      f32.set(mu0.subarray(s, e), muAt / 4);
      f32.set(nu0.subarray(s, e), nuAt / 4);
      this.fn(
        gAt,
        muAt,
        nuAt,
        outAt,
        Math.ceil(k / 4) * 16,
        c.b1,
        1 - c.b1,
        c.b2,
        1 - c.b2,
        1 / c.bc1,
        1 / c.bc2,
        c.epsRoot,
        c.eps,
      );
      mu.set(f32.subarray(muAt / 4, muAt / 4 + k), s);
      nu.set(f32.subarray(nuAt / 4, nuAt / 4 + k), s);
      out.set(f32.subarray(outAt / 4, outAt / 4 + k), s);
    }
    return true;
  }
}

/** The bound the header states, in units of 2^-24, for one element's m, v and u. */
export const F32_ADAM_ULPS = { mu: 3, nu: 4, out: 12 } as const;

/**
 * Each element's error against the float64 math in units of 2^-24 of the header's scale: [m, v, u].
 * NaN where exactly one of got/want is NaN or they are infinities that differ (callers treat NaN as a
 * failure); 0 where both are the same non-finite value.
 */
export function adamErrors(
  g: ArrayLike<number>,
  mu0: ArrayLike<number>,
  nu0: ArrayLike<number>,
  c: AdamConstants,
  got: { mu: ArrayLike<number>; nu: ArrayLike<number>; out: ArrayLike<number> },
  i: number,
): [number, number, number] {
  const { b1, b2, bc1, bc2, eps, epsRoot } = c;
  const mu64 = b1 * mu0[i] + (1 - b1) * g[i];
  const nu64 = b2 * nu0[i] + (1 - b2) * g[i] * g[i];
  const d64 = Math.sqrt(nu64 / bc2 + epsRoot) + eps;
  const u64 = mu64 / bc1 / d64;
  // Below float32's smallest normal, rounding is absolute (2^-149 steps): the scales have that floor.
  const tiny = 2 ** -126;
  const mScale = b1 * Math.abs(mu0[i]) + (1 - b1) * Math.abs(g[i]) + tiny;
  const e = (x: number, want: number, scale: number): number =>
    Object.is(x, want) || (Number.isNaN(x) && Number.isNaN(want))
      ? 0
      : Number.isFinite(want)
        ? (Math.abs(x - want) / scale) * 2 ** 24
        : NaN;
  return [
    e(got.mu[i], mu64, mScale),
    e(got.nu[i], nu64, nu64 + tiny),
    e(got.out[i], u64, Math.abs(u64) + mScale / bc1 / d64 + tiny),
  ];
}

/**
 * The self-check at registration: against the float64 math within the stated bounds on odd and even
 * lengths (tails of 1–3 elements), gradients across 2^±20 with zeros of both signs and subnormals,
 * early and late steps, eps 0 and eps_root > 0; and NaN where the CPU reference gives NaN.
 */
export function f32AdamSelfCheck(kernel: AdamMomentsKernel): boolean {
  let seed = 31415;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const [n, c] of [
    [65, adamConstants(0.9, 0.999, 1, 1e-8, 0)],
    [71, adamConstants(0.9, 0.95, 3, 0, 0)],
    [130, adamConstants(0.8, 0.999, 1000, 1e-8, 1e-12)],
  ] as const) {
    const g = new Float32Array(n).map(() => next() * 2 ** (next() * 20));
    const mu0 = new Float32Array(n).map(() => next() * 2 ** (next() * 20));
    const nu0 = new Float32Array(n).map(() => Math.abs(next()) * 2 ** (next() * 20));
    g.set([0, -0, 1e-45, NaN, Infinity], n - 5);
    const got = kernel(g, mu0, nu0, c);
    if (got.mu.length !== n || got.nu.length !== n || got.out.length !== n) return false;
    for (let i = 0; i < n; i++) {
      const [em, ev, eu] = adamErrors(g, mu0, nu0, c, got, i);
      if (!(em <= F32_ADAM_ULPS.mu && ev <= F32_ADAM_ULPS.nu && eu <= F32_ADAM_ULPS.out)) return false;
    }
  }
  return true;
}

if (f32KernelsEnabled && F32Adam.supported())
  registerF32Kernel('adamMoments', new F32Adam().kernel, f32AdamSelfCheck);
