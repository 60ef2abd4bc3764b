/**
 * WebAssembly SIMD 'tanhVjp' for float32 arrays: out = g·(1 − y·y) four elements per f32x4 operation,
 * three correctly rounded float32 operations per element — the CPU reference's bits (and so those of
 * tanh's VJP in primitive ops). One pass over y and g instead of the three passes, each copying its
 * operands in and out of WebAssembly memory, of mul, sub and mul. Chunked, so the three regions stay in
 * the core's cache. Float64 arrays, and any length below MIN_TANH_VJP, go to the CPU reference.
 */
import { cpuTanhVjp } from '../cpu/tanh-vjp.js';
import type { TanhVjpKernel } from '../registry.js';
import { FunctionBuilder, assembleModule } from './assembler.js';
import { type WasmMemory, instantiate } from './api.js';
import { WasmKernelHost, regionOffsets } from './kernel-host.js';

type TanhVjpFn = (y: number, g: number, out: number, bytes: number) => void;

const V128 = { align: 4, offset: 0 };

/** tanhVjp(y, g, out, bytes): over `bytes` (a multiple of 16, ≥ 16), out = g·(1 − y·y) in f32x4. */
function buildTanhVjp(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32']);
  const [y, g, out, bytes] = [0, 1, 2, 3];
  const i = f.local('i32');
  const one = f.local('v128');
  const v = f.local('v128');
  f.f64(1).scalar('f32.demote_f64').simd('f32x4.splat').set(one);
  f.i32(0).set(i);
  f.loop(() => {
    f.get(out).get(i).add(); // store address, under the result
    f.get(g).get(i).add().simd('v128.load', V128);
    f.get(one);
    f.get(y).get(i).add().simd('v128.load', V128).tee(v).get(v).simd('f32x4.mul');
    f.simd('f32x4.sub').simd('f32x4.mul').simd('v128.store', V128);
    f.get(i).i32(16).add().tee(i).get(bytes).ltU().brIf(0);
  });
  return f;
}

/** Elements per chunk: three 32 KiB regions. */
const CHUNK = 8192;
/** Below this many elements the copies and the call cost more than the loop. */
export const MIN_TANH_VJP = 64;

export class WasmTanhVjp extends WasmKernelHost {
  private readonly fn: TanhVjpFn;

  constructor() {
    const instance = instantiate(assembleModule([{ name: 'tanh_vjp', fn: buildTanhVjp() }]));
    super(instance.exports.memory as WasmMemory);
    this.fn = instance.exports.tanh_vjp as TanhVjpFn;
  }

  readonly kernel: TanhVjpKernel = (y, g, out) => {
    const n = out.length;
    if (
      !(y instanceof Float32Array && g instanceof Float32Array && out instanceof Float32Array) ||
      n < MIN_TANH_VJP
    )
      return cpuTanhVjp(y, g, out);
    const [yAt, gAt, oAt, end] = regionOffsets([CHUNK * 4, CHUNK * 4, CHUNK * 4]);
    if (!this.ensure(end)) return cpuTanhVjp(y, g, out);
    const f32 = this.f32;
    for (let s = 0; s < n; s += CHUNK) {
      const e = Math.min(n, s + CHUNK);
      const k = e - s;
      f32.set(y.subarray(s, e), yAt / 4);
      f32.set(g.subarray(s, e), gAt / 4);
      // Lanes past k (up to the next multiple of 4) compute on stale values and are not copied out.
      this.fn(yAt, gAt, oAt, Math.ceil(k / 4) * 16);
      out.set(f32.subarray(oAt / 4, oAt / 4 + k), s);
    }
  };
}
