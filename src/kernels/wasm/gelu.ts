/**
 * WebAssembly GELU over float32 arrays: the 'wasm' backends of 'geluExp' (the forward that saves its
 * exponentials) and of 'geluVjp' when those exponentials are given. Both transcribe the CPU
 * reference's float64 expressions operation for operation — the forward including `expForFloat32`'s
 * clamp, table and polynomial, with the table copied into linear memory — two elements per f64x2
 * operation, so every result is the reference's bit for bit (IEEE lane arithmetic rounds exactly as
 * scalar arithmetic does; only the table lookup stays scalar, one load per lane). Float64 arrays and a
 * VJP without saved exponentials go to the CPU reference.
 */
import { EXP_FOR_FLOAT32 } from '../cpu/exp.js';
import { cpuGeluExp, cpuGeluVjp } from '../cpu/gelu.js';
import type { GeluExpKernel, GeluVjpKernel } from '../registry.js';
import { FunctionBuilder, assembleModule } from './assembler.js';
import { type WasmMemory, instantiate } from './api.js';
import { WasmKernelHost, align64 } from './kernel-host.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;
const F64 = { align: 3, offset: 0 };
const V128 = { align: 4, offset: 0 };

type ExpFn = (x: number, out: number, e: number, n: number, table: number) => void;
type VjpFn = (x: number, e: number, g: number, out: number, n: number) => void;

/** A v128 local holding `value` in both f64 lanes, set before the loop. */
function splat(f: FunctionBuilder, value: number): number {
  const l = f.local('v128');
  f.f64(value).simd('f64x2.splat').set(l);
  return l;
}

/** Pushes the two float32 values at base + off, widened to f64x2. */
function loadPair(f: FunctionBuilder, base: number, off: number): void {
  f.get(base).get(off).add().simd('v128.load64_zero', F64).simd('f64x2.promote_low_f32x4');
}

/**
 * Two elements at a time: e = expForFloat32(((−2)·c)·(v + ((a·v)·v)·v)), out = v/(1 + e), e kept in
 * float64. Reads and writes whole pairs: an odd n's last pair reaches one element past the data,
 * which the caller's 64-byte-aligned regions leave room for. n ≥ 1.
 */
function buildExp(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, out, e, n, table] = [0, 1, 2, 3, 4];
  const { low, high, bias, toK, kToR } = EXP_FOR_FLOAT32;
  const i8 = f.local('i32');
  const end = f.local('i32');
  const v = f.local('v128');
  const z = f.local('v128');
  const k = f.local('v128');
  const r = f.local('v128');
  const ev = f.local('v128');
  const [cK1, cA, cLow, cHigh, cToK, cHalfBias, cKToR, c1, cHalf, cSixth, c24th] = [
    -2 * GELU_C,
    GELU_A,
    low,
    high,
    toK,
    bias + 0.5,
    kToR,
    1,
    0.5,
    1 / 6,
    1 / 24,
  ].map((c) => splat(f, c));
  const cBias = f.local('v128');
  f.i32(bias).simd('i32x4.splat').set(cBias);
  const cTable = f.local('v128');
  f.get(table).simd('i32x4.splat').set(cTable);
  f.get(n).i32(1).add().i32(1).scalar('i32.shr_u').i32(8).mul().set(end).i32(0).set(i8);
  f.loop(() => {
    loadPair(f, x, i8);
    f.set(v);
    // y = K1·(v + ((a·v)·v)·v); z = clamp(y): pmax(y, low) is y < low ? low : y, pmin(·, high) likewise.
    f.get(cK1).get(v).get(cA).get(v).simd('f64x2.mul').get(v).simd('f64x2.mul').get(v).simd('f64x2.mul');
    f.simd('f64x2.add').simd('f64x2.mul');
    f.get(cLow).simd('f64x2.pmax').get(cHigh).simd('f64x2.pmin').set(z);
    // k = (z·toK + (bias + 0.5)) | 0, in i32 lanes 0 and 1
    f.get(z).get(cToK).simd('f64x2.mul').get(cHalfBias).simd('f64x2.add');
    f.simd('i32x4.trunc_sat_f64x2_s_zero').set(k);
    // r = z − (k − bias)·kToR
    f.get(z).get(k).get(cBias).simd('i32x4.sub').simd('f64x2.convert_low_i32x4_s');
    f.get(cKToR).simd('f64x2.mul').simd('f64x2.sub').set(r);
    // table[k], one scalar load per lane, at table + 8k
    f.get(k).i32(3).simd('i32x4.shl').get(cTable).simd('i32x4.add').set(k);
    f.get(k).lane('i32x4.extract_lane', 0).scalar('f64.load', F64).simd('f64x2.splat');
    f.set(ev).get(k).lane('i32x4.extract_lane', 1).get(ev).lane('v128.load64_lane', 1, F64);
    f.set(ev);
    // e = (1 + r(1 + r(0.5 + r(1/6 + r/24))))·table[k]
    f.get(c1).get(r).get(c1).get(r).get(cHalf).get(r).get(cSixth).get(r).get(c24th);
    for (let j = 0; j < 4; j++) f.simd('f64x2.mul').simd('f64x2.add');
    f.get(ev).simd('f64x2.mul').set(ev);
    f.get(e).get(i8).get(i8).add().add().get(ev).simd('v128.store', V128);
    // out = v / (1 + e), rounded to float32
    f.get(out).get(i8).add();
    f.get(v).get(c1).get(ev).simd('f64x2.add').simd('f64x2.div').simd('f32x4.demote_f64x2_zero');
    f.lane('v128.store64_lane', 0, F64);
    f.get(i8).i32(8).add().tee(i8).get(end).ltU().brIf(0);
  });
  return f;
}

/**
 * Two elements at a time: s = 1/(1 + e); out = g·(s·(1 + ((((2v)·e)·s)·c)·(1 + ((3a)·v)·v))).
 * Pairs as in `buildExp`; n ≥ 1.
 */
function buildVjp(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, e, g, out, n] = [0, 1, 2, 3, 4];
  const i8 = f.local('i32');
  const end = f.local('i32');
  const v = f.local('v128');
  const ev = f.local('v128');
  const s = f.local('v128');
  const [c1, c2, cC, c3A] = [1, 2, GELU_C, 3 * GELU_A].map((c) => splat(f, c));
  f.get(n).i32(1).add().i32(1).scalar('i32.shr_u').i32(8).mul().set(end).i32(0).set(i8);
  f.loop(() => {
    loadPair(f, x, i8);
    f.set(v);
    f.get(e).get(i8).get(i8).add().add().simd('v128.load', V128).set(ev);
    f.get(c1).get(c1).get(ev).simd('f64x2.add').simd('f64x2.div').set(s);
    f.get(out).get(i8).add(); // store address, under the result
    loadPair(f, g, i8);
    f.get(s);
    f.get(c1);
    f.get(c2).get(v).simd('f64x2.mul').get(ev).simd('f64x2.mul').get(s).simd('f64x2.mul');
    f.get(cC).simd('f64x2.mul');
    f.get(c1).get(c3A).get(v).simd('f64x2.mul').get(v).simd('f64x2.mul').simd('f64x2.add');
    f.simd('f64x2.mul').simd('f64x2.add').simd('f64x2.mul').simd('f64x2.mul');
    f.simd('f32x4.demote_f64x2_zero').lane('v128.store64_lane', 0, F64);
    f.get(i8).i32(8).add().tee(i8).get(end).ltU().brIf(0);
  });
  return f;
}

/** The exponential's table lives at the start of memory (after 64 bytes of slack), copied once. */
const TABLE_AT = 64;
const DATA_AT = TABLE_AT + align64(EXP_FOR_FLOAT32.table.length * 8);

export class WasmGelu extends WasmKernelHost {
  private readonly expFn: ExpFn;
  private readonly vjpFn: VjpFn;

  constructor() {
    const instance = instantiate(
      assembleModule([
        { name: 'exp', fn: buildExp() },
        { name: 'vjp', fn: buildVjp() },
      ]),
    );
    super(instance.exports.memory as WasmMemory);
    this.expFn = instance.exports.exp as ExpFn;
    this.vjpFn = instance.exports.vjp as VjpFn;
    if (!this.ensure(DATA_AT)) throw new Error('WasmGelu: cannot allocate the exponential table');
    this.f64.set(EXP_FOR_FLOAT32.table, TABLE_AT / 8);
  }

  readonly geluExp: GeluExpKernel = (x, out, e) => {
    const n = out.length;
    if (x instanceof Float32Array && out instanceof Float32Array && n > 0) {
      // Regions rounded up to 64 bytes leave room for an odd n's last pair.
      const eAt = DATA_AT;
      const xAt = eAt + align64(n * 8 + 8);
      const oAt = xAt + align64(n * 4 + 4);
      if (this.ensure(oAt + align64(n * 4 + 4))) {
        this.f32.set(x.subarray(0, n), xAt / 4);
        this.expFn(xAt, oAt, eAt, n, TABLE_AT);
        out.set(this.f32.subarray(oAt / 4, oAt / 4 + n));
        e.set(this.f64.subarray(eAt / 8, eAt / 8 + n));
        return;
      }
    }
    cpuGeluExp(x, out, e);
  };

  readonly geluVjp: GeluVjpKernel = (x, g, out, e) => {
    const n = out.length;
    if (e && x instanceof Float32Array && g instanceof Float32Array && out instanceof Float32Array && n > 0) {
      const eAt = DATA_AT;
      const xAt = eAt + align64(n * 8 + 8);
      const gAt = xAt + align64(n * 4 + 4);
      const oAt = gAt + align64(n * 4 + 4);
      if (this.ensure(oAt + align64(n * 4 + 4))) {
        this.f64.set(e.subarray(0, n), eAt / 8);
        this.f32.set(x.subarray(0, n), xAt / 4);
        this.f32.set(g.subarray(0, n), gAt / 4);
        this.vjpFn(xAt, eAt, gAt, oAt, n);
        out.set(this.f32.subarray(oAt / 4, oAt / 4 + n));
        return;
      }
    }
    cpuGeluVjp(x, g, out, e);
  };
}
