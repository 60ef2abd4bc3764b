/**
 * The 'wasm-f32' backends of 'softmax' (plain and log), 'causalSoftmax', 'softmaxVjp' and
 * 'logSoftmaxVjp': float32 arithmetic four lanes at a time, as PyTorch's CPU softmax computes them
 * (softmax-rows.ts, softmax-vjps.ts), instead of the exact backends' float64 arithmetic in the CPU
 * reference's order. Softmax multiplies by 1/s (one division per row); log-softmax takes log s per
 * row from Math.log (float64, rounded to float32) and writes (x − m) − log s, so entries near the max
 * keep their accuracy. Float64 arrays and empty inputs go to the CPU reference.
 *
 * Error against float64 math: the bounds and the measured errors are in softmax-check.ts (the
 * self-check at registration and test/kernels/f32-softmax.test.ts both hold the kernels to them).
 */
import type { FloatArray } from '../arrays.js';
import { cpuCausalSoftmax, cpuLogSoftmaxVjp, cpuSoftmax, cpuSoftmaxVjp } from '../cpu/softmax.js';
import type {
  CausalSoftmaxKernel,
  LogSoftmaxVjpKernel,
  SoftmaxKernel,
  SoftmaxVjpKernel,
} from '../registry.js';
import { type WasmMemory, instantiate } from '../wasm/api.js';
import { type FunctionBuilder, assembleModule } from '../wasm/assembler.js';
import { WasmKernelHost, align64 } from '../wasm/kernel-host.js';
import { f32KernelsEnabled, registerF32Kernel } from './register.js';
import { f32SoftmaxSelfCheck, f32SoftmaxVjpSelfCheck } from './softmax-check.js';
import { buildLogOut, buildLogStats, buildSoftmaxRows } from './softmax-rows.js';
import { buildLogSoftmaxVjp, buildSoftmaxVjp } from './softmax-vjps.js';

/** The module's exported functions (softmax-rows.ts, softmax-vjps.ts), on byte addresses. */
interface F32SoftmaxExports {
  rows(x: number, rows: number, cols: number, out: number, causal: number): void;
  logStats(x: number, rows: number, cols: number, stats: number): void;
  logOut(x: number, rows: number, cols: number, stats: number, out: number): void;
  vjp(y: number, g: number, rows: number, cols: number, out: number): void;
  logVjp(y: number, g: number, rows: number, cols: number, out: number): void;
}
type VjpFn = F32SoftmaxExports['vjp'];

/** A region of `n` floats and the 16 bytes a row's last group of four may reach past it, 64-aligned. */
const region = (n: number): number => align64(n * 4 + 16);
const DATA_AT = 64;

export class WasmF32Softmax extends WasmKernelHost {
  private readonly fns: F32SoftmaxExports;

  constructor() {
    const functions: Record<keyof F32SoftmaxExports, FunctionBuilder> = {
      rows: buildSoftmaxRows(),
      logStats: buildLogStats(),
      logOut: buildLogOut(),
      vjp: buildSoftmaxVjp(),
      logVjp: buildLogSoftmaxVjp(),
    };
    const instance = instantiate(
      assembleModule(Object.entries(functions).map(([name, fn]) => ({ name, fn }))),
    );
    super(instance.exports.memory as WasmMemory);
    this.fns = instance.exports as unknown as F32SoftmaxExports;
  }

  /** Softmax rows (causal or not) in wasm; false (nothing done) where memory cannot grow. */
  private rows(x: Float32Array, rows: number, cols: number, out: Float32Array, causal: boolean): boolean {
    const n = rows * cols;
    const xAt = DATA_AT;
    const oAt = xAt + region(n);
    if (!this.ensure(oAt + region(n))) return false;
    this.f32.set(x.subarray(0, n), xAt / 4);
    this.fns.rows(xAt, rows, cols, oAt, causal ? 1 : 0);
    out.set(this.f32.subarray(oAt / 4, oAt / 4 + n));
    return true;
  }

  /** Log-softmax rows: max and Σ exp in wasm, log s per row here, (x − m) − log s in wasm. */
  private logRows(x: Float32Array, rows: number, cols: number, out: Float32Array): boolean {
    const n = rows * cols;
    const statsAt = DATA_AT;
    const xAt = statsAt + region(2 * rows);
    const oAt = xAt + region(n);
    if (!this.ensure(oAt + region(n))) return false;
    const v = this.f32;
    v.set(x.subarray(0, n), xAt / 4);
    this.fns.logStats(xAt, rows, cols, statsAt);
    for (let i = statsAt / 4 + 1, end = i + 2 * rows; i < end; i += 2) v[i] = Math.log(v[i]);
    this.fns.logOut(xAt, rows, cols, statsAt, oAt);
    out.set(v.subarray(oAt / 4, oAt / 4 + n));
    return true;
  }

  /** Copies y and g in, runs `fn` on their addresses, copies out back; false (nothing done) otherwise. */
  private vjpRows(
    fn: VjpFn,
    y: FloatArray,
    g: FloatArray,
    rows: number,
    cols: number,
    out: FloatArray,
  ): boolean {
    if (!(y instanceof Float32Array && g instanceof Float32Array && out instanceof Float32Array))
      return false;
    if (rows <= 0 || cols <= 0) return false;
    const n = rows * cols;
    const yAt = DATA_AT;
    const gAt = yAt + region(n);
    const oAt = gAt + region(n);
    if (!this.ensure(oAt + region(n))) return false;
    const v = this.f32;
    v.set(y.subarray(0, n), yAt / 4);
    v.set(g.subarray(0, n), gAt / 4);
    fn(yAt, gAt, rows, cols, oAt);
    out.set(v.subarray(oAt / 4, oAt / 4 + n));
    return true;
  }

  readonly softmax: SoftmaxKernel = (x, rows, cols, out, log) => {
    if (x instanceof Float32Array && out instanceof Float32Array && rows > 0 && cols > 0)
      if (log ? this.logRows(x, rows, cols, out) : this.rows(x, rows, cols, out, false)) return;
    cpuSoftmax(x, rows, cols, out, log);
  };

  readonly causalSoftmax: CausalSoftmaxKernel = (x, rows, cols, out) => {
    if (x instanceof Float32Array && out instanceof Float32Array && rows > 0 && cols > 0)
      if (this.rows(x, rows, cols, out, true)) return;
    cpuCausalSoftmax(x, rows, cols, out);
  };

  readonly softmaxVjp: SoftmaxVjpKernel = (y, g, rows, cols, out) => {
    if (!this.vjpRows(this.fns.vjp, y, g, rows, cols, out)) cpuSoftmaxVjp(y, g, rows, cols, out);
  };

  readonly logSoftmaxVjp: LogSoftmaxVjpKernel = (y, g, rows, cols, out) => {
    if (!this.vjpRows(this.fns.logVjp, y, g, rows, cols, out)) cpuLogSoftmaxVjp(y, g, rows, cols, out);
  };
}

if (f32KernelsEnabled) {
  const k = new WasmF32Softmax();
  registerF32Kernel('softmax', k.softmax, (impl) => f32SoftmaxSelfCheck(impl, k.causalSoftmax));
  registerF32Kernel('causalSoftmax', k.causalSoftmax, (impl) => f32SoftmaxSelfCheck(k.softmax, impl));
  registerF32Kernel('softmaxVjp', k.softmaxVjp, (impl) => f32SoftmaxVjpSelfCheck(impl, false));
  registerF32Kernel('logSoftmaxVjp', k.logSoftmaxVjp, (impl) => f32SoftmaxVjpSelfCheck(impl, true));
}
