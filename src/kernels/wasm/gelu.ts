/**
 * WebAssembly GELU backward over float32 arrays: the 'wasm' backend of 'geluVjp' when the forward's
 * saved exponentials are given (see `cpuGeluExp`). It transcribes the CPU reference's float64
 * expression operation for operation, so every result is the reference's bit for bit. Float64 arrays
 * and a VJP without saved exponentials go to the CPU reference. (The forward stays on the CPU: its
 * exponential made a scalar WebAssembly transcription no faster there.)
 */
import { cpuGeluVjp } from '../cpu/gelu.js';
import type { GeluVjpKernel } from '../registry.js';
import { FunctionBuilder, assembleModule } from './assembler.js';
import { type WasmMemory, growTo, instantiate } from './api.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;
const F32 = { align: 2, offset: 0 };
const F64 = { align: 3, offset: 0 };

type VjpFn = (x: number, e: number, g: number, out: number, n: number) => void;

/** s = 1/(1 + e); out = g·(s·(1 + ((((2v)·e)·s)·c)·(1 + ((3a)·v)·v))); n ≥ 1. */
function buildVjp(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, e, g, out, n] = [0, 1, 2, 3, 4];
  const i4 = f.local('i32');
  const end = f.local('i32');
  const v = f.local('f64');
  const ei = f.local('f64');
  const s = f.local('f64');
  f.get(n).i32(4).mul().set(end).i32(0).set(i4);
  f.loop(() => {
    f.get(x).get(i4).add().scalar('f32.load', F32).scalar('f64.promote_f32').set(v);
    f.get(e).get(i4).get(i4).add().add().scalar('f64.load', F64).set(ei);
    f.f64(1).f64(1).get(ei).scalar('f64.add').scalar('f64.div').set(s);
    f.get(out).get(i4).add(); // store address, under the result
    f.get(g).get(i4).add().scalar('f32.load', F32).scalar('f64.promote_f32');
    f.get(s);
    f.f64(1);
    f.f64(2).get(v).scalar('f64.mul').get(ei).scalar('f64.mul').get(s).scalar('f64.mul');
    f.f64(GELU_C).scalar('f64.mul');
    f.f64(1)
      .f64(3 * GELU_A)
      .get(v)
      .scalar('f64.mul')
      .get(v)
      .scalar('f64.mul')
      .scalar('f64.add');
    f.scalar('f64.mul').scalar('f64.add').scalar('f64.mul').scalar('f64.mul');
    f.scalar('f32.demote_f64').scalar('f32.store', F32);
    f.get(i4).i32(4).add().tee(i4).get(end).ltU().brIf(0);
  });
  return f;
}

const align64 = (bytes: number): number => Math.ceil(bytes / 64) * 64;
/** 64 bytes of slack keep address 0 unused. */
const DATA_AT = 64;

export class WasmGelu {
  readonly memory: WasmMemory;
  private readonly vjpFn: VjpFn;
  private f32 = new Float32Array(0);
  private f64 = new Float64Array(0);

  constructor() {
    const instance = instantiate(assembleModule([{ name: 'vjp', fn: buildVjp() }]));
    this.memory = instance.exports.memory as WasmMemory;
    this.vjpFn = instance.exports.vjp as VjpFn;
  }

  private ensure(bytes: number): boolean {
    if (!growTo(this.memory, bytes)) return false;
    if (this.f32.buffer !== this.memory.buffer) {
      this.f32 = new Float32Array(this.memory.buffer);
      this.f64 = new Float64Array(this.memory.buffer);
    }
    return true;
  }

  readonly geluVjp: GeluVjpKernel = (x, g, out, e) => {
    const n = out.length;
    if (e && x instanceof Float32Array && g instanceof Float32Array && out instanceof Float32Array && n > 0) {
      const eAt = DATA_AT;
      const xAt = eAt + align64(n * 8);
      const gAt = xAt + align64(n * 4);
      const oAt = gAt + align64(n * 4);
      if (this.ensure(oAt + n * 4)) {
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
