/**
 * The probe worker's GPU: at most one device per process, opened on the first estimate (the backend is
 * selected once, and why is noted once). Estimates the device supports — Gauss-Newton-Bartlett
 * (`mlpGnbProbe`) and Hutchinson (`mlpHutchinsonProbe`, with the CPU's Rademacher directions) on a tanh
 * MLP, and Gauss-Newton-Bartlett on the GPT (`gptGnbProbe`) — are computed there; every other model
 * or estimator (the GPT's Hutchinson among them), and every
 * estimate after the device failed (a kernel error, a WebGPU error scope, a lost device; see
 * GpuFallback), is `estimateCurvature` on the CPU. Training never stops for the GPU.
 *
 * With the `webasm` backend (no WebGPU adapter, gpu.js's WebAssembly mode works) every estimate is
 * `estimateCurvature` computed with gpu.js's kernels: the registry's kernels switched to backend
 * `gpujs-webasm` for the probe (this worker's own registry; src/kernels/gpujs/sync.ts), float32 throughout. A failure
 * there is noted and that estimate and every later one come from the CPU reference kernels.
 *
 * The device draws the same labels as the CPU's GNB: it is given the very uniforms `sampleLabels`
 * draws from (seed, 'gnb-labels', step), one per prediction row in row order (for the GPT a row is a
 * token position, b·T + t), and a draw that lies too close to a class boundary for float32 logits to
 * be trusted is redrawn from the CPU's logits (../probes/labels.ts).
 */
import type { Batch } from '../../data/batch.js';
import { sampleLabels } from '../../curvature/gnb-diag.js';
import type { GptSpec, MlpSpec, Model } from '../../nn/model.js';
import { rng } from '../../random/counter-rng.js';
import { Tensor } from '../../tensor/tensor.js';
import {
  type CurvatureEstimate,
  type ResolvedCurvature,
  estimateCurvature,
} from '../../step/curvature-schedule.js';
import { type GpuBackendKind, type GpuPreference, selectGpuBackend } from './backend.js';
import { type DeviceArray, GpuDevice } from '../device/device.js';
import { gptGnbProbe } from '../probes/gpt-gnb.js';
import { GpuFallback } from './fallback.js';
import { registerGpuJsKernels } from '../../kernels/gpujs/sync.js';
import { withKernelBackend } from '../../kernels/registry.js';
import { uncertainDraws } from '../probes/labels.js';

/**
 * Injected GPU failures, for tests only: the probe worker's device computation of the matching step
 * (every step when absent) throws ('throw') or first destroys the device, as a device loss ('lose').
 */
export interface GpuFailureHook {
  step?: number;
  mode: 'throw' | 'lose';
}

export interface ProbeHostOptions {
  preference: GpuPreference;
  /** Tests only: make the device computation fail. */
  failOn?: GpuFailureHook;
  /**
   * A device draw closer than this fraction of its row's softmax mass to a class boundary sends the
   * batch's labels back to the CPU's logits (default 1e-4, well above float32 forward error).
   */
  labelMargin?: number;
}

export interface HostedEstimate {
  estimate: CurvatureEstimate;
  /** Where `estimate` was computed. */
  backend: GpuBackendKind;
  /** Lines logged since the previous estimate (backend selection, unsupported probes, fallback). */
  notes: string[];
}

/** An estimate and where it was computed. */
type Computed = Omit<HostedEstimate, 'notes'>;

/** Why this probe cannot run on the device, or null when it can. */
export function deviceProbeProblem(c: ResolvedCurvature, model: Model, batch: Batch): string | null {
  // No device kernel computes a bare H·v yet: the pair comes from the CPU's double backward.
  if (c.estimator === 'hvp-pair' || c.estimator === 'gnb-gradient')
    return `hessflow: the ${c.estimator} probe runs on the CPU (no device kernel for it yet)`;
  if (model.spec.kind === 'gpt') return gptProbeProblem(c, model.spec as GptSpec, batch);
  const spec = model.spec as Partial<MlpSpec>;
  if (spec.kind !== 'mlp' || (spec.activation ?? 'tanh') !== 'tanh')
    return `hessflow: the device probe covers tanh MLPs; model "${spec.kind}"${spec.kind === 'mlp' ? ` with activation "${spec.activation}"` : ''} runs its probes on the CPU (of other models, only the GPT's GNB probe runs on the device)`;
  if (!(batch.inputs instanceof Float32Array) || batch.inputShape.length !== 2)
    return 'hessflow: the device probe takes float32 features [rows, inputs]; this batch runs on the CPU';
  if (
    c.estimator === 'hutchinson' &&
    !(batch.targets instanceof Int32Array && batch.targets.length === batch.inputShape[0])
  )
    return 'hessflow: the device Hutchinson probe takes one class id per row (Int32Array targets); this batch runs on the CPU';
  return null;
}

/** The GPT: GNB on the device (gptGnbProbe) for token windows [batch, T ≤ blockSize]; Hutchinson on the CPU. */
function gptProbeProblem(c: ResolvedCurvature, spec: GptSpec, batch: Batch): string | null {
  if (c.estimator !== 'gnb')
    return 'hessflow: for model "gpt" the device runs the GNB probe only; its Hutchinson probes run on the CPU';
  const [b, t] = batch.inputShape;
  if (
    !(batch.inputs instanceof Int32Array) ||
    batch.inputShape.length !== 2 ||
    !(t >= 1 && t <= spec.blockSize)
  )
    return `hessflow: the device GPT probe takes Int32Array token ids [batch, T ≤ ${spec.blockSize}]; this batch runs on the CPU`;
  if (batch.inputs.length !== b * t || batch.inputs.some((id) => !(id >= 0 && id < spec.vocabSize)))
    return `hessflow: the device GPT probe needs token ids in [0, ${spec.vocabSize}); this batch runs on the CPU`;
  return null;
}

export class GpuProbeHost {
  private opened: Promise<void> | null = null;
  private fallback: GpuFallback | null = null;
  private openedDevice: GpuDevice | null = null;
  /** The registry backend of gpu.js's WebAssembly kernels while the `webasm` probe is usable. */
  private gpujs: string | null = null;
  private readonly notes: string[] = [];
  private readonly noted = new Set<string>();
  /** Estimates whose labels were redrawn from the CPU's logits (for tests and diagnostics). */
  labelRedraws = 0;

  constructor(private readonly o: ProbeHostOptions) {}

  /** The device while it is usable (null before the first estimate, on the CPU, or after a failure). */
  get device(): GpuDevice | null {
    return this.fallback?.device ?? null;
  }

  /** The estimate launched at `step`, on the device when it can be, else by `estimateCurvature`. */
  async estimate(
    c: ResolvedCurvature,
    model: Model,
    params: Float32Array,
    batch: Batch,
    seed: number,
    step: number,
  ): Promise<HostedEstimate> {
    await (this.opened ??= this.open());
    const reference = (): CurvatureEstimate => estimateCurvature(c, model, params, batch, seed, step);
    const cpu = (): Computed => ({ estimate: reference(), backend: 'cpu' });
    let out: Computed | null = null;
    const fb = this.fallback;
    if (fb?.usable) {
      const problem = deviceProbeProblem(c, model, batch);
      if (problem === null) {
        const what = c.estimator === 'gnb' ? 'GNB' : 'Hutchinson';
        out = await fb.run<Computed>(
          `${what} probe of step ${step}`,
          async (dev) => {
            this.injectedFailure(dev, step);
            const estimate =
              c.estimator === 'gnb'
                ? await this.deviceGnb(dev, model, params, batch, seed, step)
                : await deviceHutchinson(dev, c, model, params, batch, seed, step);
            return { estimate, backend: 'webgpu' };
          },
          cpu,
        );
      } else {
        this.note(problem);
      }
    } else if (this.gpujs) {
      out = this.onGpuJs(this.gpujs, step, reference);
    }
    out ??= cpu();
    return { ...out, notes: this.notes.splice(0) };
  }

  /** Releases the device (the process can exit). */
  async close(): Promise<void> {
    this.fallback?.disable('the probe host was closed');
    this.notes.length = 0;
    await this.openedDevice?.destroy();
  }

  private note(line: string): void {
    if (this.noted.has(line)) return;
    this.noted.add(line);
    this.notes.push(line);
  }

  private async open(): Promise<void> {
    const pref = this.o.preference;
    if (pref === 'cpu') return;
    let kind: GpuBackendKind;
    try {
      const sel = await selectGpuBackend(pref);
      kind = sel.kind;
      this.note(`hessflow: probe worker backend ${sel.kind}: ${sel.reason}`);
    } catch (e) {
      this.note(`hessflow: probe worker continues on the CPU — ${(e as Error).message}`);
      return;
    }
    if (kind === 'webasm') {
      this.gpujs = registerGpuJsKernels('webasm');
      this.note(
        `hessflow: without WebGPU the probe runs on gpu.js's WebAssembly kernels (registry backend ${this.gpujs})`,
      );
      return;
    }
    if (kind !== 'webgpu') return;
    try {
      this.openedDevice = await GpuDevice.open();
      this.fallback = new GpuFallback(this.openedDevice, (m) => this.note(m));
    } catch (e) {
      this.note(`hessflow: probe worker continues on the CPU — WebGPU device: ${(e as Error).message}`);
    }
  }

  /** `reference` computed on gpu.js's kernels; null (noted, and no later try) when it fails. */
  private onGpuJs(backend: string, step: number, reference: () => CurvatureEstimate): Computed | null {
    try {
      const hook = this.o.failOn;
      if (hook && (hook.step === undefined || hook.step === step))
        throw new Error(`injected gpu.js failure at step ${step}`);
      const estimate = withKernelBackend(backend, reference);
      return { estimate, backend: 'webasm' };
    } catch (e) {
      this.gpujs = null;
      this.note(
        `hessflow: the gpu.js probe of step ${step} failed (${(e as Error).message.split('\n')[0]}); this and later estimates run on the CPU`,
      );
      return null;
    }
  }

  private injectedFailure(dev: GpuDevice, step: number): void {
    const hook = this.o.failOn;
    if (!hook || (hook.step !== undefined && hook.step !== step)) return;
    if (hook.mode === 'throw') throw new Error(`injected GPU failure at step ${step}`);
    dev.device.destroy(); // as a device loss: the kernels that follow fail
  }

  private async deviceGnb(
    dev: GpuDevice,
    model: Model,
    params: Float32Array,
    batch: Batch,
    seed: number,
    step: number,
  ): Promise<CurvatureEstimate> {
    const isGpt = model.spec.kind === 'gpt';
    // prediction rows: one per example for the MLP, one per token position (b·T + t) for the GPT
    const rows = isGpt ? batch.inputShape[0] * batch.inputShape[1] : batch.inputShape[0];
    const classes = model.numClasses;
    // sampleLabels draws one uniform per row, in row order, from this stream.
    const r = rng(seed, 'gnb-labels', step);
    const u = Float64Array.from({ length: rows }, () => r.uniform());
    const arrays: DeviceArray[] = [];
    const up = (x: ArrayLike<number>) => (arrays.push(dev.upload(x)), arrays[arrays.length - 1]);
    try {
      const P = up(params);
      const X = up(batch.inputs);
      const probe = (labels: { uniforms: DeviceArray } | { labels: DeviceArray }, check: boolean) => {
        const extra = { ...labels, returnLabels: check, returnLogits: check };
        return isGpt
          ? gptGnbProbe(dev, {
              spec: model.spec as GptSpec,
              params: P,
              tokens: X,
              batch: batch.inputShape[0],
              T: batch.inputShape[1],
              ...extra,
            })
          : dev.mlpGnbProbe({ sizes: (model.spec as MlpSpec).sizes, params: P, inputs: X, rows, ...extra });
      };
      const first = await probe({ uniforms: up(u) }, true);
      const margin = this.o.labelMargin ?? 1e-4;
      if (uncertainDraws(first.logits!, u, first.labels!, classes, margin).length === 0)
        return { diag: first.diag, launchedAt: step };
      this.labelRedraws++;
      const labels = cpuLabels(model, params, batch, seed, step);
      const again = await probe({ labels: up(labels) }, false);
      return { diag: again.diag, launchedAt: step };
    } finally {
      for (const a of arrays) a.free();
    }
  }
}

/** The CPU GNB's labels: its forward pass and its `sampleLabels`, as gnbDiag computes them. */
function cpuLabels(model: Model, params: Float32Array, batch: Batch, seed: number, step: number): Int32Array {
  const flat = new Tensor(params, [params.length]);
  const logits = model.logits(model.layout.unflatten(flat), {
    data: batch.inputs,
    shape: batch.inputShape,
  });
  return sampleLabels(logits, model.numClasses, seed, step);
}

/**
 * Hutchinson on the device with the CPU estimator's directions: probe k's Rademacher vector is
 * rng(seed, 'hutchinson', step, k), as in src/curvature/hutchinson-diag.ts.
 */
async function deviceHutchinson(
  dev: GpuDevice,
  c: ResolvedCurvature,
  model: Model,
  params: Float32Array,
  batch: Batch,
  seed: number,
  step: number,
): Promise<CurvatureEstimate> {
  const n = params.length;
  const arrays: DeviceArray[] = [];
  const up = (x: ArrayLike<number>) => (arrays.push(dev.upload(x)), arrays[arrays.length - 1]);
  try {
    const directions = Array.from({ length: c.probes }, (_, k) =>
      up(rng(seed, 'hutchinson', step, k).fillRademacher(new Float32Array(n))),
    );
    const r = await dev.mlpHutchinsonProbe({
      sizes: (model.spec as MlpSpec).sizes,
      params: up(params),
      inputs: up(batch.inputs),
      labels: up(batch.targets),
      rows: batch.inputShape[0],
      directions,
    });
    return { diag: r.diag, launchedAt: step, loss: r.loss, grad: r.grad };
  } finally {
    for (const a of arrays) a.free();
  }
}
