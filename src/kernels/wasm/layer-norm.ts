/**
 * WebAssembly LayerNorm forward and backward over float32 rows: the 'wasm' backends of 'layerNorm'
 * and 'layerNormVjp'. They are the CPU reference's loops transcribed operation for operation into
 * scalar float64 WebAssembly — each float32 load widened exactly, the same sums in the same order,
 * the same divisions and square root (IEEE in both), each result rounded once to float32 on store —
 * so the results are the reference's bit for bit, without JavaScript's per-element overhead.
 * Float64 arrays go to the CPU reference.
 */
import { cpuLayerNorm, cpuLayerNormVjp } from '../cpu/layer-norm.js';
import type { LayerNormKernel, LayerNormVjpKernel } from '../registry.js';
import { FunctionBuilder, assembleModule } from './assembler.js';
import { type WasmMemory, instantiate } from './api.js';
import { WasmKernelHost, regionOffsets } from './kernel-host.js';

const F32 = { align: 2, offset: 0 };
const F64 = { align: 3, offset: 0 };

type ForwardFn = (
  x: number,
  rows: number,
  cols: number,
  eps: number,
  gain: number,
  bias: number,
  y: number,
  xhat: number,
  rstd: number,
) => void;
type BackwardFn = (
  g: number,
  xhat: number,
  rstd: number,
  gain: number,
  rows: number,
  cols: number,
  dx: number,
  sg: number,
  sb: number,
) => void;

/** Loads the float32 at the address on the stack, widened to float64. */
function loadF32(f: FunctionBuilder, at: number, j4: number): void {
  f.get(at).get(j4).add().scalar('f32.load', F32).scalar('f64.promote_f32');
}

/** A do-while over j4 = 0, 4, …, 4·(cols − 1) (cols ≥ 1). */
function overColumns(f: FunctionBuilder, j4: number, colBytes: number, body: () => void): void {
  f.i32(0).set(j4);
  f.loop(() => {
    body();
    f.get(j4).i32(4).add().tee(j4).get(colBytes).ltU().brIf(0);
  });
}

/** cpuLayerNorm's loops; addresses in bytes, rows and cols ≥ 1. */
function buildForward(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'f64', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [x, rows, cols, eps, gain, bias, y, xhat, rstd] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = f.local('i32');
  const j4 = f.local('i32');
  const colBytes = f.local('i32');
  const at = f.local('i32');
  const colsF = f.local('f64');
  const mean = f.local('f64');
  const variance = f.local('f64');
  const inv = f.local('f64');
  const d = f.local('f64');
  const h = f.local('f64');
  f.get(cols).i32(4).mul().set(colBytes);
  f.get(cols).scalar('f64.convert_i32_s').set(colsF);
  f.i32(0).set(r);
  f.loop(() => {
    // mean = Σ x / cols
    f.f64(0).set(mean);
    overColumns(f, j4, colBytes, () => {
      f.get(mean);
      loadF32(f, x, j4);
      f.scalar('f64.add').set(mean);
    });
    f.get(mean).get(colsF).scalar('f64.div').set(mean);
    // variance = Σ (x − mean)²
    f.f64(0).set(variance);
    overColumns(f, j4, colBytes, () => {
      loadF32(f, x, j4);
      f.get(mean).scalar('f64.sub').set(d);
      f.get(variance).get(d).get(d).scalar('f64.mul').scalar('f64.add').set(variance);
    });
    // inv = 1 / √(variance / cols + eps); rstd[r] = inv
    f.f64(1).get(variance).get(colsF).scalar('f64.div').get(eps).scalar('f64.add');
    f.scalar('f64.sqrt').scalar('f64.div').set(inv);
    f.get(rstd).get(inv).scalar('f32.demote_f64').scalar('f32.store', F32);
    // h = (x − mean)·inv; xhat = h; y = h·gain + bias
    overColumns(f, j4, colBytes, () => {
      loadF32(f, x, j4);
      f.get(mean).scalar('f64.sub').get(inv).scalar('f64.mul').set(h);
      f.get(xhat).get(j4).add().get(h).scalar('f32.demote_f64').scalar('f32.store', F32);
      f.get(y).get(j4).add().tee(at);
      f.get(h);
      loadF32(f, gain, j4);
      f.scalar('f64.mul');
      loadF32(f, bias, j4);
      f.scalar('f64.add').scalar('f32.demote_f64').scalar('f32.store', F32);
    });
    f.addLocal(x, colBytes).addLocal(xhat, colBytes).addLocal(y, colBytes).addConst(rstd, 4);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}

/** cpuLayerNormVjp's loops; sg and sb are float64 [cols], zeroed by the caller; rows and cols ≥ 1. */
function buildBackward(): FunctionBuilder {
  const f = new FunctionBuilder(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32']);
  const [g, xhat, rstd, gain, rows, cols, dx, sg, sb] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const r = f.local('i32');
  const j4 = f.local('i32');
  const j8 = f.local('i32');
  const colBytes = f.local('i32');
  const colsF = f.local('f64');
  const mg = f.local('f64');
  const mgx = f.local('f64');
  const gj = f.local('f64');
  const hj = f.local('f64');
  const gh = f.local('f64');
  const inv = f.local('f64');
  f.get(cols).i32(4).mul().set(colBytes);
  f.get(cols).scalar('f64.convert_i32_s').set(colsF);
  f.i32(0).set(r);
  f.loop(() => {
    f.f64(0).set(mg).f64(0).set(mgx);
    overColumns(f, j4, colBytes, () => {
      loadF32(f, g, j4);
      f.set(gj);
      loadF32(f, xhat, j4);
      f.set(hj);
      f.get(gj);
      loadF32(f, gain, j4);
      f.scalar('f64.mul').set(gh);
      f.get(mg).get(gh).scalar('f64.add').set(mg);
      f.get(mgx).get(gh).get(hj).scalar('f64.mul').scalar('f64.add').set(mgx);
      // sg[j] += gj·hj; sb[j] += gj (float64 slots: byte offset 2·j4)
      f.get(j4).get(j4).add().set(j8);
      f.get(sg).get(j8).add();
      f.get(sg).get(j8).add().scalar('f64.load', F64);
      f.get(gj).get(hj).scalar('f64.mul').scalar('f64.add').scalar('f64.store', F64);
      f.get(sb).get(j8).add();
      f.get(sb).get(j8).add().scalar('f64.load', F64);
      f.get(gj).scalar('f64.add').scalar('f64.store', F64);
    });
    f.get(mg).get(colsF).scalar('f64.div').set(mg);
    f.get(mgx).get(colsF).scalar('f64.div').set(mgx);
    f.get(rstd).scalar('f32.load', F32).scalar('f64.promote_f32').set(inv);
    // dx = inv·((g·gain − mg) − xhat·mgx)
    overColumns(f, j4, colBytes, () => {
      f.get(dx).get(j4).add();
      f.get(inv);
      loadF32(f, g, j4);
      loadF32(f, gain, j4);
      f.scalar('f64.mul').get(mg).scalar('f64.sub');
      loadF32(f, xhat, j4);
      f.get(mgx).scalar('f64.mul').scalar('f64.sub');
      f.scalar('f64.mul').scalar('f32.demote_f64').scalar('f32.store', F32);
    });
    f.addLocal(g, colBytes).addLocal(xhat, colBytes).addLocal(dx, colBytes).addConst(rstd, 4);
    f.get(r).i32(1).add().tee(r).get(rows).ltU().brIf(0);
  });
  return f;
}

export class WasmLayerNorm extends WasmKernelHost {
  private readonly forwardFn: ForwardFn;
  private readonly backwardFn: BackwardFn;

  constructor() {
    const instance = instantiate(
      assembleModule([
        { name: 'forward', fn: buildForward() },
        { name: 'backward', fn: buildBackward() },
      ]),
    );
    super(instance.exports.memory as WasmMemory);
    this.forwardFn = instance.exports.forward as ForwardFn;
    this.backwardFn = instance.exports.backward as BackwardFn;
  }

  readonly forward: LayerNormKernel = (x, rows, cols, eps, gain, bias, y, xhat, rstd) => {
    if (x instanceof Float32Array && rows > 0 && cols > 0) {
      const n = rows * cols;
      const [xAt, gAt, bAt, yAt, hAt, rAt, end] = regionOffsets([
        4 * n,
        4 * cols,
        4 * cols,
        4 * n,
        4 * n,
        4 * rows,
      ]);
      if (this.ensure(end)) {
        const v = this.f32;
        v.set(x.subarray(0, n), xAt / 4);
        v.set(gain.subarray(0, cols), gAt / 4);
        v.set(bias.subarray(0, cols), bAt / 4);
        this.forwardFn(xAt, rows, cols, eps, gAt, bAt, yAt, hAt, rAt);
        y.set(v.subarray(yAt / 4, yAt / 4 + n));
        xhat.set(v.subarray(hAt / 4, hAt / 4 + n));
        rstd.set(v.subarray(rAt / 4, rAt / 4 + rows));
        return;
      }
    }
    cpuLayerNorm(x, rows, cols, eps, gain, bias, y, xhat, rstd);
  };

  readonly backward: LayerNormVjpKernel = (g, xhat, rstd, gain, rows, cols, dx, dgain, dbias) => {
    if (g instanceof Float32Array && rows > 0 && cols > 0) {
      const n = rows * cols;
      const [gAt, hAt, rAt, wAt, dAt, sgAt, sbAt, end] = regionOffsets([
        4 * n,
        4 * n,
        4 * rows,
        4 * cols,
        4 * n,
        8 * cols,
        8 * cols,
      ]);
      if (this.ensure(end)) {
        const v = this.f32;
        v.set(g.subarray(0, n), gAt / 4);
        v.set(xhat.subarray(0, n), hAt / 4);
        v.set(rstd.subarray(0, rows), rAt / 4);
        v.set(gain.subarray(0, cols), wAt / 4);
        const w = this.f64;
        w.fill(0, sgAt / 8, sgAt / 8 + cols);
        w.fill(0, sbAt / 8, sbAt / 8 + cols);
        this.backwardFn(gAt, hAt, rAt, wAt, rows, cols, dAt, sgAt, sbAt);
        dx.set(v.subarray(dAt / 4, dAt / 4 + n));
        for (let j = 0; j < cols; j++) {
          dgain[j] = w[sgAt / 8 + j];
          dbias[j] = w[sbAt / 8 + j];
        }
        return;
      }
    }
    cpuLayerNormVjp(g, xhat, rstd, gain, rows, cols, dx, dgain, dbias);
  };
}
