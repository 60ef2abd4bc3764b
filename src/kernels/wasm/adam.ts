/**
 * WebAssembly SIMD Adam moments for `scaleByAdam` (src/optim/adam.ts): per element, in float64,
 *   m = f32(b1·m0 + (1−b1)·g);  v = f32(b2·v0 + ((1−b2)·g)·g);  u = f32((m/bc1)/(√(v/bc2 + epsRoot) + eps))
 * where f32 rounds to float32 and the rounded m, v are what the update reads — the JavaScript loop's
 * expressions operation for operation, two elements per f64x2 operation. Lane arithmetic rounds as
 * scalar IEEE arithmetic does (no fused multiply-add; division and square root correctly rounded), the
 * f32 → f64 widening is exact and the f64 → f32 narrowing rounds to nearest like a Float32Array store,
 * so every result equals the loop's bit for bit, subnormals included: nothing is flushed (float32
 * subnormals are ordinary float64 values once widened). Registered as the 'adamMoments' kernel's wasm
 * backend (index.ts) only when `adamSelfCheck` passes against the loop (the CPU reference).
 */
import { FunctionBuilder, assembleModule } from './assembler.js';
import { type WasmMemory, instantiate, validates } from './api.js';
import { adamConstants, adamMomentsLoop } from '../cpu/passes.js';
import type { AdamConstants, AdamMomentsKernel, AdamMomentsLoop, AllocateArray } from '../registry.js';
import { checkedOnce } from './checked-kernel.js';
import { WasmKernelHost, align64 } from './kernel-host.js';

const allocateNew: AllocateArray = (n) => new Float32Array(n);

type MomentsFn = (
  g: number,
  mu: number,
  nu: number,
  out: number,
  n: number,
  b1: number,
  c1: number,
  b2: number,
  c2: number,
  bc1: number,
  bc2: number,
  epsRoot: number,
  eps: number,
) => void;

const F64 = { align: 3, offset: 0 };

/**
 * Two elements at a time, m and v read from and written back to the same regions. Reads and writes
 * whole pairs: an odd n's last pair reaches one element past the data, which the caller's regions
 * leave room for. n ≥ 1.
 */
function buildMoments(): FunctionBuilder {
  const f = new FunctionBuilder([
    'i32',
    'i32',
    'i32',
    'i32',
    'i32',
    'f64',
    'f64',
    'f64',
    'f64',
    'f64',
    'f64',
    'f64',
    'f64',
  ]);
  const [g, mu, nu, out, n] = [0, 1, 2, 3, 4];
  const i8 = f.local('i32');
  const end = f.local('i32');
  const gv = f.local('v128');
  const m = f.local('v128');
  const v = f.local('v128');
  const [cB1, cC1, cB2, cC2, cBc1, cBc2, cEpsRoot, cEps] = [5, 6, 7, 8, 9, 10, 11, 12].map((p) => {
    const l = f.local('v128');
    f.get(p).simd('f64x2.splat').set(l);
    return l;
  });
  const pair = (base: number): void => {
    f.get(base).get(i8).add().simd('v128.load64_zero', F64).simd('f64x2.promote_low_f32x4');
  };
  /** Rounds the f64x2 on the stack to float32, stores the pair at base + i8 and leaves the rounded pair widened in `into`. */
  const storeRounded = (base: number, into: number): void => {
    f.simd('f32x4.demote_f64x2_zero').set(into);
    f.get(base).get(i8).add().get(into).lane('v128.store64_lane', 0, F64);
    f.get(into).simd('f64x2.promote_low_f32x4').set(into);
  };
  f.get(n).i32(1).add().i32(1).scalar('i32.shr_u').i32(8).mul().set(end).i32(0).set(i8);
  f.loop(() => {
    pair(g);
    f.set(gv);
    // m = b1·m0 + (1−b1)·g
    f.get(cB1);
    pair(mu);
    f.simd('f64x2.mul').get(cC1).get(gv).simd('f64x2.mul').simd('f64x2.add');
    storeRounded(mu, m);
    // v = b2·v0 + ((1−b2)·g)·g
    f.get(cB2);
    pair(nu);
    f.simd('f64x2.mul').get(cC2).get(gv).simd('f64x2.mul').get(gv).simd('f64x2.mul').simd('f64x2.add');
    storeRounded(nu, v);
    // u = (m/bc1)/(√(v/bc2 + epsRoot) + eps)
    f.get(out).get(i8).add(); // store address, under the result
    f.get(m).get(cBc1).simd('f64x2.div');
    f.get(v).get(cBc2).simd('f64x2.div').get(cEpsRoot).simd('f64x2.add');
    f.op(0xfd, 0xef, 0x01); // f64x2.sqrt (SIMD sub-opcode 0xEF, LEB128)
    f.get(cEps).simd('f64x2.add').simd('f64x2.div');
    f.simd('f32x4.demote_f64x2_zero').lane('v128.store64_lane', 0, F64);
    f.get(i8).i32(8).add().tee(i8).get(end).ltU().brIf(0);
  });
  return f;
}

/** Regions start past 64 bytes of slack, as in the other kernels. */
const DATA_AT = 64;

export class WasmAdam extends WasmKernelHost {
  private readonly fn: MomentsFn;

  constructor() {
    const instance = instantiate(assembleModule([{ name: 'moments', fn: buildMoments() }]));
    super(instance.exports.memory as WasmMemory);
    this.fn = instance.exports.moments as MomentsFn;
  }

  /** The module's bytes validate (false where the engine lacks WebAssembly or its SIMD). */
  static supported(): boolean {
    return validates(assembleModule([{ name: 'moments', fn: buildMoments() }]));
  }

  /**
   * mu, nu and update arrays from `allocate` (fresh ones by default); undefined when memory cannot
   * grow that far (use the loop).
   */
  moments(
    g: Float32Array,
    mu0: Float32Array,
    nu0: Float32Array,
    c: AdamConstants,
    allocate: AllocateArray = allocateNew,
  ): { mu: Float32Array; nu: Float32Array; out: Float32Array } | undefined {
    const n = g.length;
    if (n === 0) return { mu: new Float32Array(0), nu: new Float32Array(0), out: new Float32Array(0) };
    // Rounded up to 64 bytes with room for an odd n's last pair.
    const region = align64(n * 4 + 4);
    const gAt = DATA_AT;
    const muAt = gAt + region;
    const nuAt = muAt + region;
    const outAt = nuAt + region;
    if (!this.ensure(outAt + region)) return undefined;
    this.f32.set(g, gAt / 4);
    this.f32.set(mu0, muAt / 4);
    this.f32.set(nu0, nuAt / 4);
    this.fn(gAt, muAt, nuAt, outAt, n, c.b1, 1 - c.b1, c.b2, 1 - c.b2, c.bc1, c.bc2, c.epsRoot, c.eps);
    const copyOut = (at: number) => {
      const a = allocate(n);
      a.set(this.f32.subarray(at / 4, at / 4 + n));
      return a;
    };
    return { mu: copyOut(muAt), nu: copyOut(nuAt), out: copyOut(outAt) };
  }
}

/**
 * True when `kernel` reproduces `loop` exactly (every element compared with Object.is) on odd and even
 * lengths, gradients from subnormal to huge with zeros of both signs, early and late steps, eps 0 and
 * eps_root > 0.
 */
export function adamSelfCheck(kernel: AdamMomentsKernel, loop: AdamMomentsLoop): boolean {
  let seed = 27182;
  const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const [n, c] of [
    [1, adamConstants(0.9, 0.999, 1, 1e-8, 0)],
    [7, adamConstants(0.9, 0.95, 3, 0, 0)],
    [130, adamConstants(0.8, 0.999, 1000, 1e-8, 1e-12)],
  ] as const) {
    const g = new Float32Array(n).map(() => next() * 2 ** (next() * 150));
    const mu0 = new Float32Array(n).map(() => next() * 2 ** (next() * 20));
    const nu0 = new Float32Array(n).map(() => Math.abs(next()) * 2 ** (next() * 40));
    if (n > 4) g.set([0, -0, 1e-45, -3e38], n - 4);
    const want = [n, n, n].map((k) => new Float32Array(k).fill(NaN));
    loop(g, mu0, nu0, want[0], want[1], want[2], c);
    const { mu, nu, out } = kernel(g, mu0, nu0, c);
    const got = [mu, nu, out];
    for (let k = 0; k < 3; k++) {
      if (got[k].length !== n) return false;
      for (let i = 0; i < n; i++) if (!Object.is(got[k][i], want[k][i])) return false;
    }
  }
  return true;
}

/** Below this many elements the copies into and out of wasm memory cost more than the loop saves. */
export const MIN_WASM_ADAM = 64;

/**
 * The 'adamMoments' backend, built and checked exactly against the loop on first call (null where
 * SIMD is missing or the check fails). Below MIN_WASM_ADAM elements, and for a request memory cannot
 * hold, it runs the loop.
 */
export const adamKernel = checkedOnce(
  WasmAdam.supported,
  (): AdamMomentsKernel => {
    const w = new WasmAdam();
    return (g, mu0, nu0, c, allocate = allocateNew) => {
      const r = g.length >= MIN_WASM_ADAM ? w.moments(g, mu0, nu0, c, allocate) : undefined;
      if (r) return r;
      const n = g.length;
      const [mu, nu, out] = [allocate(n), allocate(n), allocate(n)];
      adamMomentsLoop(g, mu0, nu0, mu, nu, out, c);
      return { mu, nu, out };
    };
  },
  (kernel) => adamSelfCheck(kernel, adamMomentsLoop),
);
