/**
 * Float32 LayerNorm in WebAssembly: the 'wasm-f32' backends of 'layerNorm', 'layerNormVjp' and
 * 'normalize', computed as PyTorch computes them on a CPU — float32 arithmetic four lanes at a time
 * with independent partial sums (layer-norm-module.ts says exactly what) — instead of the exact
 * 'wasm' backend's float64 arithmetic in the CPU reference's order. Float64 arrays (and any
 * non-float32 operand) go to the CPU reference, so float64 gradient checks keep their precision.
 *
 * Measured error against float64 math on the same float32 inputs (test/kernels/f32-layer-norm.test.ts
 * asserts bounds 1.5–2.5× these; widths 1–200 including every remainder mod 4, rows N(μ, σ²) with
 * σ from 1e-3 to 1e3 and |μ|/σ up to 10, 2048 rows at width 64):
 * - x̂: 2.0e-7 of max(|x̂|, 1) + |mean|·rstd (the second term is the float32 mean's own rounding,
 *   ½ulp(mean)·rstd, which no float32 kernel avoids: rows whose mean dwarfs their spread lose accuracy
 *   in proportion, as in PyTorch's); y: 2.4e-7 of max(|x̂·gain| + |bias|, 1) + |mean·gain|·rstd;
 *   rstd: 1.5e-7 relative. normalize: as x̂ and rstd.
 * - dx against the float64 VJP at the same x̂ and rstd: 1.6e-7 of rstd·(|ĝ| + mean|ĝ|·(1 + |x̂|));
 *   dgain and dbias: 4.8e-8 of Σ_rows|g·x̂| and Σ_rows|g| (float32 sums of BLOCK_ROWS rows, float64
 *   across blocks).
 * - Against the CPU reference (test/tensor/kernels.test.ts's property test): at most 1.8e-7.
 * - Edge rows: a row of equal values gives x̂ = 0, y = bias, rstd = 1/√eps; one column likewise; a NaN
 *   or ±Inf in a row makes that row's x̂, y and rstd NaN, as the reference does, and leaves other rows
 *   alone; a row of ±0 gives x̂ = 0; subnormal entries are kept (WebAssembly does not flush them).
 *   Unlike the float64 reference, the float32 sum of squares overflows when |x − mean| exceeds about
 *   1.8e19 (its square passes float32's largest value): such a row gives rstd = 0 and x̂ = 0 where
 *   the reference is finite, as a float32 sum of squares must.
 */
import { cpuNormalize } from '../cpu/elementwise.js';
import { cpuLayerNorm, cpuLayerNormVjp } from '../cpu/layer-norm.js';
import type { LayerNormKernel, LayerNormVjpKernel, NormalizeKernel } from '../registry.js';
import { assembleModule } from '../wasm/assembler.js';
import { type WasmMemory, instantiate } from '../wasm/api.js';
import { WasmKernelHost, regionOffsets } from '../wasm/kernel-host.js';
import { forwardSelfCheck, backwardSelfCheck, normalizeSelfCheck } from './layer-norm-check.js';
import { buildBackward, buildForward } from './layer-norm-module.js';
import { f32KernelsEnabled, registerF32Kernel } from './register.js';

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
type NormalizeFn = (x: number, rows: number, cols: number, eps: number, xhat: number, rstd: number) => void;
type BackwardFn = (
  g: number,
  xhat: number,
  rstd: number,
  gain: number,
  rows: number,
  cols: number,
  dx: number,
  sgAcc: number,
  sbAcc: number,
  sgSum: number,
  sbSum: number,
) => void;

/** Regions each followed by 16 spare bytes: a row's last group of four may reach past its data. */
const layout = (sizes: readonly number[]): number[] => regionOffsets(sizes, 16);

const allF32 = (...arrays: ArrayLike<number>[]): boolean => arrays.every((a) => a instanceof Float32Array);

export class WasmF32LayerNorm extends WasmKernelHost {
  private readonly forwardFn: ForwardFn;
  private readonly normalizeFn: NormalizeFn;
  private readonly backwardFn: BackwardFn;

  constructor() {
    const instance = instantiate(
      assembleModule([
        { name: 'forward', fn: buildForward(true) },
        { name: 'normalize', fn: buildForward(false) },
        { name: 'backward', fn: buildBackward() },
      ]),
    );
    super(instance.exports.memory as WasmMemory);
    this.forwardFn = instance.exports.forward as ForwardFn;
    this.normalizeFn = instance.exports.normalize as NormalizeFn;
    this.backwardFn = instance.exports.backward as BackwardFn;
  }

  readonly forward: LayerNormKernel = (x, rows, cols, eps, gain, bias, y, xhat, rstd) => {
    if (allF32(x, gain, bias, y, xhat, rstd) && rows > 0 && cols > 0) {
      const n = rows * cols;
      const [xAt, gAt, bAt, yAt, hAt, rAt, end] = layout([4 * n, 4 * cols, 4 * cols, 4 * n, 4 * n, 4 * rows]);
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

  readonly normalize: NormalizeKernel = (x, rows, cols, eps, xhat, rstd) => {
    if (allF32(x, xhat, rstd) && rows > 0 && cols > 0) {
      const n = rows * cols;
      const [xAt, hAt, rAt, end] = layout([4 * n, 4 * n, 4 * rows]);
      if (this.ensure(end)) {
        const v = this.f32;
        v.set(x.subarray(0, n), xAt / 4);
        this.normalizeFn(xAt, rows, cols, eps, hAt, rAt);
        xhat.set(v.subarray(hAt / 4, hAt / 4 + n));
        rstd.set(v.subarray(rAt / 4, rAt / 4 + rows));
        return;
      }
    }
    cpuNormalize(x, rows, cols, eps, xhat, rstd);
  };

  readonly backward: LayerNormVjpKernel = (g, xhat, rstd, gain, rows, cols, dx, dgain, dbias) => {
    if (allF32(g, xhat, rstd, gain, dx, dgain, dbias) && rows > 0 && cols > 0) {
      const n = rows * cols;
      const quadBytes = 16 * Math.ceil(cols / 4);
      const [gAt, hAt, rAt, wAt, dAt, saAt, baAt, ssAt, bsAt, end] = layout([
        4 * n,
        4 * n,
        4 * rows,
        4 * cols,
        4 * n,
        quadBytes,
        quadBytes,
        2 * quadBytes,
        2 * quadBytes,
      ]);
      if (this.ensure(end)) {
        const v = this.f32;
        v.set(g.subarray(0, n), gAt / 4);
        v.set(xhat.subarray(0, n), hAt / 4);
        v.set(rstd.subarray(0, rows), rAt / 4);
        v.set(gain.subarray(0, cols), wAt / 4);
        v.fill(0, saAt / 4, baAt / 4 + quadBytes / 4);
        const w = this.f64;
        w.fill(0, ssAt / 8, bsAt / 8 + quadBytes / 4);
        this.backwardFn(gAt, hAt, rAt, wAt, rows, cols, dAt, saAt, baAt, ssAt, bsAt);
        dx.set(v.subarray(dAt / 4, dAt / 4 + n));
        dgain.set(w.subarray(ssAt / 8, ssAt / 8 + cols));
        dbias.set(w.subarray(bsAt / 8, bsAt / 8 + cols));
        return;
      }
    }
    cpuLayerNormVjp(g, xhat, rstd, gain, rows, cols, dx, dgain, dbias);
  };
}

/** The instance behind the registered kernels (undefined in exact mode or without WebAssembly SIMD). */
export const wasmF32LayerNorm: WasmF32LayerNorm | undefined = f32KernelsEnabled
  ? new WasmF32LayerNorm()
  : undefined;

if (wasmF32LayerNorm) {
  registerF32Kernel('layerNorm', wasmF32LayerNorm.forward, forwardSelfCheck);
  registerF32Kernel('layerNormVjp', wasmF32LayerNorm.backward, backwardSelfCheck);
  registerF32Kernel('normalize', wasmF32LayerNorm.normalize, normalizeSelfCheck);
}
