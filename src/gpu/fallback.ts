/**
 * GPU → CPU fallback: training must not stop when the device is lost or a kernel fails. A
 * `GpuFallback` wraps the probe worker's device; `run` tries the GPU form of a computation inside
 * WebGPU error scopes (validation and out-of-memory errors, which WebGPU reports asynchronously rather
 * than by throwing) and, on a thrown error, a scope error or a lost device, logs the reason once
 * through the injected logger, marks the device unusable and returns the CPU form instead. Every
 * later call goes straight to the CPU.
 *
 * Two ready-made pairs: the MLP GNB probe (device `mlpGnbProbe` / src/curvature `gnbDiag`) and a
 * Sophia-G step on host state (WGSL in place / src/optim `sophiaG`).
 */
import { gnbDiag } from '../curvature/gnb-diag.js';
import { mlp } from '../nn/models/mlp.js';
import { applyUpdates, sophiaG } from '../optim/index.js';
import type { SophiaState } from '../optim/sophia-g.js';
import { rng } from '../random/counter-rng.js';
import { Tensor } from '../tensor/tensor.js';
import type { DeviceArray, GpuDevice } from './device.js';
import type { SophiaGStepOptions } from './device-update.js';

export type FallbackLogger = (message: string) => void;

export class GpuFallback {
  private why: string | null = null;

  /** `device` null: CPU from the start (with `reason`, logged on the first call). */
  constructor(
    private readonly dev: GpuDevice | null,
    private readonly log: FallbackLogger,
    private readonly initialReason = 'no GPU device',
  ) {}

  /** Whether the next `run` will try the GPU. */
  get usable(): boolean {
    if (this.why !== null) return false;
    if (!this.dev) return (this.disable(this.initialReason), false);
    if (!this.dev.usable) {
      this.disable(this.dev.lost ? 'the WebGPU device was lost' : 'the GPU device was destroyed');
      return false;
    }
    return true;
  }

  /** Why the GPU is no longer used (null while it is). */
  get reason(): string | null {
    return this.why;
  }

  /** The device while it is usable, else null. */
  get device(): GpuDevice | null {
    return this.usable ? this.dev : null;
  }

  /** Stops using the GPU; logs the reason the first time. */
  disable(reason: string): void {
    if (this.why !== null) return;
    this.why = reason;
    this.log(`hessflow: GPU disabled, continuing on the CPU — ${reason}`);
  }

  /** The GPU form of a computation, or the CPU form once (or as soon as) the GPU fails. */
  async run<T>(what: string, gpu: (dev: GpuDevice) => Promise<T>, cpu: () => T | Promise<T>): Promise<T> {
    const dev = this.device;
    if (dev) {
      const failure = await attempt(dev, gpu);
      if (!('error' in failure)) return failure.value;
      this.disable(`${what} failed: ${failure.error}`);
    }
    return cpu();
  }
}

/** Runs `gpu` inside validation / out-of-memory error scopes; the value, or the first error's message. */
async function attempt<T>(
  dev: GpuDevice,
  gpu: (dev: GpuDevice) => Promise<T>,
): Promise<{ value: T } | { error: string }> {
  const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];
  let scopes = 0;
  try {
    dev.device.pushErrorScope('validation');
    scopes++;
    dev.device.pushErrorScope('out-of-memory');
    scopes++;
  } catch {
    // a device that cannot push scopes fails below, at its first use
  }
  let out: { value: T } | { error: string };
  try {
    out = { value: await gpu(dev) };
  } catch (e) {
    out = { error: firstLine(e) };
  }
  for (; scopes > 0; scopes--) {
    try {
      const err = await dev.device.popErrorScope();
      if (err && !('error' in out)) out = { error: `WebGPU error: ${firstLine(err.message)}` };
    } catch (e) {
      if (!('error' in out)) out = { error: firstLine(e) };
    }
  }
  if (!('error' in out) && dev.lost) out = { error: 'the WebGPU device was lost' };
  return out;
}

/** Shorthand for `fallback.run(what, gpu, cpu)`. */
export function withCpuFallback<T>(
  fallback: GpuFallback,
  what: string,
  gpu: (dev: GpuDevice) => Promise<T>,
  cpu: () => T | Promise<T>,
): Promise<T> {
  return fallback.run(what, gpu, cpu);
}

export interface MlpProbeRequest {
  /** Layer widths of a tanh MLP (src/nn/models/mlp.ts). */
  sizes: readonly number[];
  params: Float32Array;
  /** Features [rows, sizes[0]]. */
  inputs: { data: Float32Array; shape: [number, number] };
  /** Label sampling stream, as gnbDiag's options. */
  seed: number;
  step: number;
}

/** ĝ⊙ĝ and the sampled labels of a tanh MLP: on the device, or by src/curvature gnbDiag on the CPU. */
export function mlpGnbDiag(
  fallback: GpuFallback,
  o: MlpProbeRequest,
): Promise<{ diag: Float32Array; sampled: Int32Array }> {
  const rows = o.inputs.shape[0];
  return fallback.run(
    'MLP GNB probe',
    async (dev) => {
      const r = rng(o.seed, 'gnb-labels', o.step);
      const u = Float64Array.from({ length: rows }, () => r.uniform());
      const arrays: DeviceArray[] = [];
      try {
        const [params, inputs, uniforms] = [o.params, o.inputs.data, u].map((x) => {
          const a = dev.upload(x);
          arrays.push(a);
          return a;
        });
        const res = await dev.mlpGnbProbe({
          sizes: o.sizes,
          params,
          inputs,
          rows,
          uniforms,
          returnLabels: true,
        });
        return { diag: res.diag, sampled: res.labels! };
      } finally {
        for (const a of arrays) a.free();
      }
    },
    () => {
      const model = mlp({ kind: 'mlp', sizes: [...o.sizes], activation: 'tanh' });
      const est = gnbDiag(model, new Tensor(o.params, [o.params.length]), o.inputs, {
        seed: o.seed,
        step: o.step,
      });
      return { diag: Float32Array.from(est.diag), sampled: est.sampled };
    },
  );
}

/** Sophia-G state on the host: θ, the gradient EMA m and the curvature EMA h. */
export interface HostSophiaG {
  theta: Float32Array;
  m: Float32Array;
  h: Float32Array;
}

export interface SophiaGFallbackOptions extends SophiaGStepOptions {
  b2: number;
  /** A fresh curvature estimate ĥ for this step (h ← β2·h + (1−β2)·ĥ first). */
  hessianDiag?: Float32Array;
}

/**
 * One Sophia-G step on host state, in place: the WGSL EMA and fused step on the device (state
 * uploaded, updated, read back), or the library's `sophiaG` (src/optim) on the CPU.
 */
export function sophiaGStepHost(
  fallback: GpuFallback,
  s: HostSophiaG,
  grad: Float32Array,
  o: SophiaGFallbackOptions,
): Promise<void> {
  return fallback.run(
    'Sophia-G step',
    async (dev) => {
      const arrays = [s.theta, s.m, s.h, grad, ...(o.hessianDiag ? [o.hessianDiag] : [])].map((x) =>
        dev.upload(x),
      );
      try {
        const [theta, m, h, g, hHat] = arrays;
        if (hHat) await dev.ema(h, hHat, o.b2, { inPlace: true });
        await dev.sophiaGStep({ theta, m }, g, h, o);
        const [t2, m2, h2] = await Promise.all([theta, m, h].map((a) => dev.download(a)));
        s.theta.set(t2);
        s.m.set(m2);
        s.h.set(h2);
      } finally {
        for (const a of arrays) a.free();
      }
    },
    () => {
      const opt = sophiaG({ lr: o.lr, b1: o.b1, b2: o.b2, rho: o.rho, weightDecay: o.weightDecay });
      const state = opt.init(s.theta);
      const inner = state[0] as SophiaState;
      state[0] = { ...inner, m: s.m, h: s.h };
      const [updates, next] = opt.update(grad, state, s.theta, {
        batchSize: o.batchSize,
        ...(o.hessianDiag ? { hessianDiag: o.hessianDiag } : {}),
      });
      const after = next[0] as SophiaState;
      s.theta.set(applyUpdates(s.theta, updates));
      s.m.set(after.m);
      s.h.set(after.h);
    },
  );
}
