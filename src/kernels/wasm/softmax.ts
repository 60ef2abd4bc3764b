/**
 * WebAssembly softmax kernels over float32 rows: the 'wasm' backends of 'softmax' (and log-softmax),
 * 'causalSoftmax', 'softmaxVjp' and 'logSoftmaxVjp'. They transcribe the CPU reference's loops
 * operation for operation into float64 WebAssembly, including `expForFloat32` (exp.ts, with the table
 * copied into linear memory), so every result is the reference's bit for bit. A row's exponentials
 * are computed two per f64x2 operation into a float64 row buffer first (each lane the scalar result,
 * see `emitExpPair`), then summed in order by a scalar loop: the sum's order is the reference's, and
 * the exponential — the long dependency chain — costs ~0.5–0.7× the scalar one per element (causal
 * softmax [8192, 64]: 3.7–4.2 → 2.7–2.8 ms; log-softmax [2048, 89]: 2.2–2.4 → 1.6–1.7 ms). Log-softmax
 * takes its one logarithm per row from Math.log between two wasm passes (log-softmax.ts). Float64
 * arrays go to the CPU reference.
 */
import type { FloatArray } from '../arrays.js';
import { EXP_FOR_FLOAT32 } from '../cpu/exp.js';
import { cpuCausalSoftmax, cpuLogSoftmaxVjp, cpuSoftmax, cpuSoftmaxVjp } from '../cpu/softmax.js';
import type {
  CausalSoftmaxKernel,
  LogSoftmaxVjpKernel,
  SoftmaxKernel,
  SoftmaxVjpKernel,
} from '../registry.js';
import { FunctionBuilder, assembleModule } from './assembler.js';
import { emitExpPair, expPairLocals, loadF32 } from './exp.js';
import { buildLogOut, buildLogStats, buildLogVjp } from './log-softmax.js';
import { type WasmMemory, instantiate } from './api.js';
import { WasmKernelHost, align64 } from './kernel-host.js';

const F32 = { align: 2, offset: 0 };
const F64 = { align: 3, offset: 0 };

type SoftmaxFn = (
  x: number,
  rows: number,
  cols: number,
  out: number,
  row: number,
  causal: number,
  table: number,
) => void;
type VjpFn = (y: number, g: number, rows: number, cols: number, out: number) => void;
type LogFn = (x: number, rows: number, cols: number, stats: number, last: number) => void;
type LogStatsFn = (x: number, rows: number, cols: number, stats: number, row: number, table: number) => void;
type LogVjpFn = (
  y: number,
  g: number,
  rows: number,
  cols: number,
  out: number,
  row: number,
  table: number,
) => void;

/** Softmax rows (causal: row r of each block of `cols` rows covers columns 0..r); rows, cols ≥ 1. */
function buildSoftmax(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, rows, cols, out, row, causal, table] = [0, 1, 2, 3, 4, 5, 6];
  const r = f.local('i32');
  const ri = f.local('i32');
  const j4 = f.local('i32');
  const wb = f.local('i32');
  const colBytes = f.local('i32');
  const m = f.local('f64');
  const v = f.local('f64');
  const s = f.local('f64');
  const inv = f.local('f64');
  const mv = f.local('v128');
  const vv = f.local('v128');
  const pair = expPairLocals(f, table);
  f.get(cols).i32(4).mul().set(colBytes);
  f.i32(0).set(r).i32(0).set(ri);
  f.loop(() => {
    // Width in bytes: (ri + 1)·4 when causal, else the whole row.
    f.get(ri).i32(1).add().i32(4).mul().get(colBytes).get(causal).scalar('select').set(wb);
    // m = max (a NaN never compares greater)
    f.f64(-Infinity).set(m).i32(0).set(j4);
    f.loop(() => {
      loadF32(f, x, j4);
      f.set(v);
      f.get(v).get(m).get(v).get(m).scalar('f64.gt').scalar('select').set(m);
      f.get(j4).i32(4).add().tee(j4).get(wb).ltU().brIf(0);
    });
    // row[j] = exp(x − m), two at a time: an odd width's extra lane reads the float after the row
    // (the next row's, or the region after x) and writes one f64 past it (row has room: an odd cols'
    // 8·cols bytes round up past it); that value is never used.
    f.get(m).simd('f64x2.splat').set(mv).i32(0).set(j4);
    f.loop(() => {
      f.get(row).get(j4).get(j4).add().add(); // store address, under the result
      f.get(x).get(j4).add().simd('v128.load64_zero', F64).simd('f64x2.promote_low_f32x4');
      f.get(mv).simd('f64x2.sub').set(vv);
      emitExpPair(f, vv, pair);
      f.simd('v128.store', F64);
      f.get(j4).i32(8).add().tee(j4).get(wb).ltU().brIf(0);
    });
    // s = Σ row, in order
    f.f64(0).set(s).i32(0).set(j4);
    f.loop(() => {
      f.get(s).get(row).get(j4).get(j4).add().add().scalar('f64.load', F64).scalar('f64.add').set(s);
      f.get(j4).i32(4).add().tee(j4).get(wb).ltU().brIf(0);
    });
    // out = row·(1/s), then zeros past the width
    f.f64(1).get(s).scalar('f64.div').set(inv).i32(0).set(j4);
    f.loop(() => {
      f.get(out).get(j4).add();
      f.get(row).get(j4).get(j4).add().add().scalar('f64.load', F64);
      f.get(inv).scalar('f64.mul').scalar('f32.demote_f64').scalar('f32.store', F32);
      f.get(j4).i32(4).add().tee(j4).get(wb).ltU().brIf(0);
    });
    f.get(wb).get(colBytes).ltU();
    f.ifThen(() => {
      f.get(wb).set(j4);
      f.loop(() => {
        f.get(out).get(j4).add().f64(0).scalar('f32.demote_f64').scalar('f32.store', F32);
        f.get(j4).i32(4).add().tee(j4).get(colBytes).ltU().brIf(0);
      });
    });
    f.addLocal(x, colBytes).addLocal(out, colBytes);
    f.get(ri).i32(1).add().get(cols).scalar('i32.rem_u').set(ri);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}

/** out = y ⊙ (g − Σ g⊙y) per row; rows, cols ≥ 1. */
function buildVjp(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32']);
  const [y, g, rows, cols, out] = [0, 1, 2, 3, 4];
  const r = f.local('i32');
  const j4 = f.local('i32');
  const colBytes = f.local('i32');
  const dot = f.local('f64');
  f.get(cols).i32(4).mul().set(colBytes);
  f.i32(0).set(r);
  f.loop(() => {
    f.f64(0).set(dot).i32(0).set(j4);
    f.loop(() => {
      f.get(dot);
      loadF32(f, g, j4);
      loadF32(f, y, j4);
      f.scalar('f64.mul').scalar('f64.add').set(dot);
      f.get(j4).i32(4).add().tee(j4).get(colBytes).ltU().brIf(0);
    });
    f.i32(0).set(j4);
    f.loop(() => {
      f.get(out).get(j4).add();
      loadF32(f, y, j4);
      loadF32(f, g, j4);
      f.get(dot).scalar('f64.sub').scalar('f64.mul').scalar('f32.demote_f64').scalar('f32.store', F32);
      f.get(j4).i32(4).add().tee(j4).get(colBytes).ltU().brIf(0);
    });
    f.addLocal(y, colBytes).addLocal(g, colBytes).addLocal(out, colBytes);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}

/** The exponential's table lives at the start of memory (after 64 bytes of slack), copied once. */
const TABLE_AT = 64;
const DATA_AT = TABLE_AT + align64(EXP_FOR_FLOAT32.table.length * 8);

export class WasmSoftmax extends WasmKernelHost {
  private readonly softmaxFn: SoftmaxFn;
  private readonly vjpFn: VjpFn;
  private readonly logStatsFn: LogStatsFn;
  private readonly logOutFn: LogFn;
  private readonly logVjpFn: LogVjpFn;

  constructor() {
    const instance = instantiate(
      assembleModule([
        { name: 'softmax', fn: buildSoftmax() },
        { name: 'vjp', fn: buildVjp() },
        { name: 'logStats', fn: buildLogStats() },
        { name: 'logOut', fn: buildLogOut() },
        { name: 'logVjp', fn: buildLogVjp() },
      ]),
    );
    super(instance.exports.memory as WasmMemory);
    this.softmaxFn = instance.exports.softmax as SoftmaxFn;
    this.vjpFn = instance.exports.vjp as VjpFn;
    this.logStatsFn = instance.exports.logStats as LogStatsFn;
    this.logOutFn = instance.exports.logOut as LogFn;
    this.logVjpFn = instance.exports.logVjp as LogVjpFn;
    if (!this.ensure(DATA_AT)) throw new Error('WasmSoftmax: cannot allocate the exponential table');
    new Float64Array(this.memory.buffer).set(EXP_FOR_FLOAT32.table, TABLE_AT / 8);
  }

  private rows(x: Float32Array, rows: number, cols: number, out: Float32Array, causal: boolean): boolean {
    const n = rows * cols;
    const rowAt = DATA_AT;
    const xAt = rowAt + align64(cols * 8);
    const oAt = xAt + align64(n * 4);
    if (!this.ensure(oAt + n * 4)) return false;
    const v = this.f32;
    v.set(x.subarray(0, n), xAt / 4);
    this.softmaxFn(xAt, rows, cols, oAt, rowAt, causal ? 1 : 0, TABLE_AT);
    out.set(v.subarray(oAt / 4, oAt / 4 + n));
    return true;
  }

  /** Log-softmax rows: max and Σ exp in wasm, m + Math.log(s) per row here, x − lse in wasm. */
  private logRows(x: Float32Array, rows: number, cols: number, out: Float32Array): boolean {
    const n = rows * cols;
    const statsAt = DATA_AT;
    const rowAt = statsAt + align64(rows * 16);
    const xAt = rowAt + align64(cols * 8 + 8); // one row's exponentials, and one past it
    const oAt = xAt + align64(n * 4);
    if (!this.ensure(oAt + n * 4)) return false;
    this.f32.set(x.subarray(0, n), xAt / 4);
    this.logStatsFn(xAt, rows, cols, statsAt, rowAt, TABLE_AT);
    const st = this.f64;
    for (let r = 0, i = statsAt / 8; r < rows; r++, i += 2) st[i] = st[i] + Math.log(st[i + 1]);
    this.logOutFn(xAt, rows, cols, statsAt, oAt);
    out.set(this.f32.subarray(oAt / 4, oAt / 4 + n));
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
    const done = this.vjpInWasm(y, g, rows, cols, out, 0, (yAt, gAt, oAt) =>
      this.vjpFn(yAt, gAt, rows, cols, oAt),
    );
    if (!done) cpuSoftmaxVjp(y, g, rows, cols, out);
  };

  readonly logSoftmaxVjp: LogSoftmaxVjpKernel = (y, g, rows, cols, out) => {
    // Below y: one row's exponentials, and one past it.
    const done = this.vjpInWasm(y, g, rows, cols, out, align64(cols * 8 + 8), (yAt, gAt, oAt) =>
      this.logVjpFn(yAt, gAt, rows, cols, oAt, DATA_AT, TABLE_AT),
    );
    if (!done) cpuLogSoftmaxVjp(y, g, rows, cols, out);
  };

  /**
   * Copies y and g (float32, rows × cols) into memory after `rowBytes` of per-row scratch at DATA_AT,
   * runs `kernel` on their addresses and copies its output into out; false (nothing done) for other
   * dtypes, empty inputs or memory that cannot grow.
   */
  private vjpInWasm(
    y: FloatArray,
    g: FloatArray,
    rows: number,
    cols: number,
    out: FloatArray,
    rowBytes: number,
    kernel: (yAt: number, gAt: number, oAt: number) => void,
  ): boolean {
    if (!(y instanceof Float32Array && g instanceof Float32Array && out instanceof Float32Array))
      return false;
    if (rows <= 0 || cols <= 0) return false;
    const n = rows * cols;
    const yAt = DATA_AT + rowBytes;
    const gAt = yAt + align64(n * 4);
    const oAt = gAt + align64(n * 4);
    if (!this.ensure(oAt + n * 4)) return false;
    const v = this.f32;
    v.set(y.subarray(0, n), yAt / 4);
    v.set(g.subarray(0, n), gAt / 4);
    kernel(yAt, gAt, oAt);
    out.set(v.subarray(oAt / 4, oAt / 4 + n));
    return true;
  }
}
