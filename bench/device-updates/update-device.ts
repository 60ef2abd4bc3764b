/**
 * A `GpuDevice` with the optimizer updates on the device: the fused Sophia-G step, the curvature EMA
 * and the fused AdaHessian step in hand-written WGSL (updates.ts), and the earlier gpu.js Sophia-G
 * kernel over an interleaved state. No training path runs optimizer steps on the device (the probe
 * worker's device computes curvature only); the benchmarks and their tests do.
 */
import { GpuDevice, type DeviceArray, type GpuDeviceOptions } from '../../src/gpu/device/device.js';
import * as up from './updates.js';
import type {
  AdahessianBuffers,
  AdahessianStepOptions,
  SophiaGBuffers,
  SophiaGStepOptions,
} from './updates.js';

export interface EmaOptions {
  /** Update h itself and return it (default false: a new array). */
  inPlace?: boolean;
  /** 'wgsl' (default) or the earlier gpu.js kernel ('gpujs', never in place). */
  impl?: 'wgsl' | 'gpujs';
}

export class UpdateDevice extends GpuDevice {
  /** Opens the process's WebGPU device (as `GpuDevice.open`), with the update methods. */
  static override async open(options: GpuDeviceOptions = {}): Promise<UpdateDevice> {
    const { adapter, context } = await GpuDevice.acquire(options);
    return new UpdateDevice(adapter, context, options);
  }

  /** Separate θ and m device buffers (m zero unless given) for the WGSL Sophia-G step. */
  sophiaGState(theta: DeviceArray | ArrayLike<number>, m?: DeviceArray | ArrayLike<number>): SophiaGBuffers {
    return up.sophiaGBuffers(this, theta, m);
  }

  /** The interleaved device state [θ0, m0, θ1, m1, …] of the gpu.js Sophia-G step (comparison path). */
  async sophiaState(
    theta: DeviceArray | ArrayLike<number>,
    m?: DeviceArray | ArrayLike<number>,
  ): Promise<DeviceArray> {
    return up.sophiaStateInterleaved(this, theta, m);
  }

  /**
   * One fused Sophia-G step: m ← β1·m + (1−β1)·g, then
   * θ ← θ·(1 − lr·wd) − lr·sign(m)·min(|m|/(ρ·bs·h + 1e-15), 1); h is the curvature EMA (`ema`).
   * On separate buffers (`sophiaGState`, the default path): hand-written WGSL, in place; returns the
   * same buffers. On an interleaved state (`sophiaState`): the earlier gpu.js kernel, which returns a
   * new state.
   */
  sophiaGStep(
    state: SophiaGBuffers,
    grad: DeviceArray,
    h: DeviceArray,
    o: SophiaGStepOptions,
  ): Promise<SophiaGBuffers>;
  sophiaGStep(
    state: DeviceArray,
    grad: DeviceArray,
    h: DeviceArray,
    o: SophiaGStepOptions,
  ): Promise<DeviceArray>;
  async sophiaGStep(
    state: SophiaGBuffers | DeviceArray,
    grad: DeviceArray,
    h: DeviceArray,
    o: SophiaGStepOptions,
  ): Promise<SophiaGBuffers | DeviceArray> {
    if ('theta' in state) {
      up.sophiaGStepWgsl(this, state, grad, h, o);
      return state;
    }
    return up.sophiaGStepGpuJs(this, state, grad, h, o);
  }

  /** θ and m, read back from an interleaved state or separate buffers. */
  async splitState(state: DeviceArray | SophiaGBuffers): Promise<{ theta: Float32Array; m: Float32Array }> {
    return up.splitState(this, state);
  }

  /** h ← β·h + (1−β)·x: a new array, or h itself with `inPlace` (WGSL unless impl 'gpujs'). */
  async ema(h: DeviceArray, x: DeviceArray, beta: number, o: EmaOptions = {}): Promise<DeviceArray> {
    if (o.impl === 'gpujs') {
      if (o.inPlace) throw new Error('GpuDevice.ema: the gpu.js kernel cannot update in place');
      return up.emaGpuJs(this, h, x, beta);
    }
    return up.emaWgsl(this, h, x, beta, o.inPlace ?? false);
  }

  /**
   * One fused AdaHessian step in WGSL, in place on θ, m and v: m ← β1·m + (1−β1)·g,
   * v ← β2·v + (1−β2)·D², θ ← θ − lr·((m/bc1)/((√v/√bc2)^k + ε) + wd·θ); diag is D.
   */
  async adahessianStep(
    state: AdahessianBuffers,
    grad: DeviceArray,
    diag: DeviceArray,
    o: AdahessianStepOptions,
  ): Promise<AdahessianBuffers> {
    up.adahessianStepWgsl(this, state, grad, diag, o);
    return state;
  }
}
