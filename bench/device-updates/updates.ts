/**
 * Optimizer updates on the device: the fused Sophia-G step, the curvature EMA and the fused
 * AdaHessian step as hand-written WGSL (wgsl-update.ts) over separate flat buffers, updated in place;
 * and the earlier gpu.js Sophia-G kernel over an interleaved (θ, m) state, kept for comparison.
 */
import { DeviceArray, need, type GpuDeviceCore, type WgslDispatch } from '../../src/gpu/device/core.js';
import { emaSource, interleaveSource, sophiaGSource } from './sources.js';
import {
  EMA_IN_PLACE,
  EMA_OUT,
  SOPHIA_G,
  STREAM_WORKGROUP,
  adahessianKernel,
  streamSource,
  streamUniformBytes,
  streamUniforms,
  type StreamKernel,
} from './wgsl-update.js';

export interface SophiaGStepOptions {
  lr: number;
  weightDecay: number;
  b1: number;
  rho: number;
  /** Predictions per minibatch (Sophia-G's bs). */
  batchSize: number;
}

/** Sophia-G state on the device for the WGSL step: θ and m in separate buffers of equal length. */
export interface SophiaGBuffers {
  theta: DeviceArray;
  m: DeviceArray;
}

/** AdaHessian state on the device: θ, m and v (the EMA of D²) in separate buffers. */
export interface AdahessianBuffers {
  theta: DeviceArray;
  m: DeviceArray;
  v: DeviceArray;
}

export interface AdahessianStepOptions {
  lr: number;
  weightDecay: number;
  b1: number;
  b2: number;
  eps: number;
  /** k in (√v̂)^k (default 1). */
  hessianPower?: number;
  /** 1-based step number t for the bias corrections 1 − β^t. */
  step: number;
}

/**
 * Runs a streaming WGSL kernel over the first d elements of `arrays` (read_write ones first): the
 * vec4 form over ⌊d/4⌋ vec4s (bound as exactly that many bytes), the f32 form over the 0–3 element
 * tail, both in one compute pass.
 */
function stream(
  dev: GpuDeviceCore,
  k: StreamKernel,
  d: number,
  arrays: DeviceArray[],
  values: readonly number[],
): void {
  const names = [...k.rw, ...k.ro];
  arrays.forEach((a, i) => need(names[i], a, d));
  const buffers = arrays.map((a) => dev.live(a).buffer);
  for (let i = 0; i < k.rw.length; i++)
    for (let j = 0; j < buffers.length; j++)
      if (i !== j && buffers[i] === buffers[j])
        throw new Error(`GpuDevice: ${names[i]} (updated in place) and ${names[j]} must be different arrays`);
  if (d === 0) return;
  const n4 = Math.floor(d / 4);
  const list: WgslDispatch[] = [];
  const bytes = streamUniformBytes(k);
  if (n4 > 0) {
    const gx = Math.min(Math.ceil(n4 / STREAM_WORKGROUP), dev.maxWorkgroups);
    list.push({
      pipeline: dev.wgslPipeline(`${k.key}:vec4`, () => streamSource(k, true), bytes),
      uniforms: streamUniforms(k, n4, gx * STREAM_WORKGROUP, 0, values),
      bindings: buffers.map((buffer) => ({ buffer, offset: 0, size: n4 * 16 })),
      groups: [gx],
    });
  }
  if (d > 4 * n4) {
    list.push({
      pipeline: dev.wgslPipeline(`${k.key}:f32`, () => streamSource(k, false), bytes),
      uniforms: streamUniforms(k, d, STREAM_WORKGROUP, 4 * n4, values),
      bindings: buffers.map((buffer) => ({ buffer })),
      groups: [1],
    });
  }
  dev.dispatch(list);
}

/** New separate θ and m buffers (m zero unless given) for `sophiaGStepWgsl`. */
export function sophiaGBuffers(
  dev: GpuDeviceCore,
  theta: DeviceArray | ArrayLike<number>,
  m?: DeviceArray | ArrayLike<number>,
): SophiaGBuffers {
  const th = theta instanceof DeviceArray ? theta : dev.upload(theta);
  const mm = m === undefined ? dev.fill(th.length, 0) : m instanceof DeviceArray ? m : dev.upload(m);
  need('m', mm, th.length);
  return { theta: th, m: mm };
}

/** One fused Sophia-G step in WGSL, in place on s.theta and s.m; h is the curvature EMA. */
export function sophiaGStepWgsl(
  dev: GpuDeviceCore,
  s: SophiaGBuffers,
  grad: DeviceArray,
  h: DeviceArray,
  o: SophiaGStepOptions,
): void {
  const d = s.theta.length;
  stream(
    dev,
    SOPHIA_G,
    d,
    [s.theta, s.m, h, grad],
    [o.lr, 1 - o.lr * o.weightDecay, o.b1, 1 - o.b1, o.rho * o.batchSize],
  );
}

/** h ← β·h + (1−β)·x in WGSL: in place (returns h) or into a new array. */
export function emaWgsl(
  dev: GpuDeviceCore,
  h: DeviceArray,
  x: DeviceArray,
  beta: number,
  inPlace: boolean,
): DeviceArray {
  if (inPlace) {
    stream(dev, EMA_IN_PLACE, h.length, [h, x], [beta, 1 - beta]);
    return h;
  }
  const out = dev.alloc(h.length);
  try {
    stream(dev, EMA_OUT, h.length, [out, h, x], [beta, 1 - beta]);
  } catch (e) {
    out.free();
    throw e;
  }
  return out;
}

/** gpu.js EMA into a new array (the earlier path, kept for comparison). */
export async function emaGpuJs(
  dev: GpuDeviceCore,
  h: DeviceArray,
  x: DeviceArray,
  beta: number,
): Promise<DeviceArray> {
  need('x', x, h.length);
  return dev.run(emaSource(), [h.length], [h, x, beta]);
}

/** One fused AdaHessian step in WGSL, in place on θ, m and v; diag is D (the block-averaged |ĥ|). */
export function adahessianStepWgsl(
  dev: GpuDeviceCore,
  s: AdahessianBuffers,
  grad: DeviceArray,
  diag: DeviceArray,
  o: AdahessianStepOptions,
): void {
  const k = o.hessianPower ?? 1;
  if (!Number.isInteger(o.step) || o.step < 1)
    throw new RangeError(`GpuDevice.adahessianStep: step must be an integer ≥ 1, got ${o.step}`);
  const bc1 = 1 - o.b1 ** o.step;
  const sqrtBc2 = Math.sqrt(1 - o.b2 ** o.step);
  const kernel = adahessianKernel(k);
  stream(
    dev,
    kernel,
    s.theta.length,
    [s.theta, s.m, s.v, grad, diag],
    [o.lr, o.weightDecay, o.b1, 1 - o.b1, o.b2, 1 - o.b2, bc1, sqrtBc2, o.eps, k],
  );
}

// ---- the gpu.js Sophia-G kernel over an interleaved state (comparison path) ----

/** The interleaved device state [θ0, m0, θ1, m1, …] of the gpu.js Sophia-G step. */
export async function sophiaStateInterleaved(
  dev: GpuDeviceCore,
  theta: DeviceArray | ArrayLike<number>,
  m?: DeviceArray | ArrayLike<number>,
): Promise<DeviceArray> {
  const th = theta instanceof DeviceArray ? theta : dev.upload(theta);
  const d = th.length;
  const mm = m === undefined ? dev.fill(d, 0) : m instanceof DeviceArray ? m : dev.upload(m);
  need('m', mm, d);
  try {
    return await dev.run(interleaveSource(), [d], [th, mm]);
  } finally {
    if (!(theta instanceof DeviceArray)) th.free();
    if (!(m instanceof DeviceArray)) mm.free();
  }
}

/** One gpu.js Sophia-G step on an interleaved state (length 2d); returns the new state. */
export async function sophiaGStepGpuJs(
  dev: GpuDeviceCore,
  state: DeviceArray,
  grad: DeviceArray,
  h: DeviceArray,
  o: SophiaGStepOptions,
): Promise<DeviceArray> {
  const d = state.length / 2;
  if (!Number.isInteger(d))
    throw new RangeError('GpuDevice.sophiaGStep: state length must be even (interleaved θ, m)');
  need('grad', grad, d);
  need('h', h, d);
  return dev.run(sophiaGSource(), [d], [state, grad, h, o.lr, o.weightDecay, o.b1, o.rho * o.batchSize]);
}

/** θ and m out of an interleaved state or separate buffers. */
export async function splitState(
  dev: GpuDeviceCore,
  state: DeviceArray | SophiaGBuffers,
): Promise<{ theta: Float32Array; m: Float32Array }> {
  if (!(state instanceof DeviceArray)) {
    const [theta, m] = await Promise.all([
      dev.download(state.theta),
      dev.download(state.m, state.theta.length),
    ]);
    return { theta, m };
  }
  const s = await dev.download(state);
  const d = s.length / 2;
  const theta = new Float32Array(d);
  const m = new Float32Array(d);
  for (let i = 0; i < d; i++) {
    theta[i] = s[2 * i];
    m[i] = s[2 * i + 1];
  }
  return { theta, m };
}
