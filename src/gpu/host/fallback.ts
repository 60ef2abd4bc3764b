/**
 * GPU → CPU fallback: training must not stop when the device is lost or a kernel fails. A
 * `GpuFallback` wraps the probe worker's device; `run` tries the GPU form of a computation inside
 * WebGPU error scopes (validation and out-of-memory errors, which WebGPU reports asynchronously rather
 * than by throwing) and, on a thrown error, a scope error or a lost device, logs the reason once
 * through the injected logger, marks the device unusable and returns the CPU form instead. Every
 * later call goes straight to the CPU.
 *
 * A ready-made pair: the MLP GNB probe (device `mlpGnbProbe` / src/curvature `gnbDiag`). (A Sophia-G
 * step on host state, WGSL in place or src/optim `sophiaG`, is in bench/device-updates/.)
 */
import { gnbDiag } from '../../curvature/gnb-diag.js';
import { mlp } from '../../nn/models/mlp.js';
import { rng } from '../../random/counter-rng.js';
import { Tensor } from '../../tensor/tensor.js';
import type { DeviceArray, GpuDevice } from '../device/device.js';

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
