/**
 * The device-resident Gauss-Newton-Bartlett probe of a tanh MLP (src/nn/models/mlp.ts with activation
 * 'tanh'): forward, label sampling, backward and ĝ⊙ĝ in gpu.js kernels, only the estimate read back.
 */
import { checkSize, need, type DeviceArray, type GpuDeviceCore } from '../device/core.js';
import { logSumExpRows, sampleLabels, softmaxXentGrad } from '../device/elementwise.js';
import { backTanhSource, biasGradSqSource, linearSource, weightGradSqSource } from './mlp-sources.js';

export interface MlpGnbProbeOptions {
  /** Layer widths [in, hidden…, classes]; tanh between layers (src/nn/models/mlp.ts with activation 'tanh'). */
  sizes: readonly number[];
  /** Flat parameters in the MLP's layout (layers.{l}.weight [out, in], then layers.{l}.bias). */
  params: DeviceArray;
  /** Features [rows, sizes[0]]. */
  inputs: DeviceArray;
  rows: number;
  /** Either fixed labels (class ids) … */
  labels?: DeviceArray;
  /** … or one uniform in [0, 1) per row to sample labels from the model's softmax (as sampleLabels on the CPU). */
  uniforms?: DeviceArray;
  /** Also read back the sampled labels. */
  returnLabels?: boolean;
  /** Also read back the logits [rows, classes] (to check how close each draw was to a class boundary). */
  returnLogits?: boolean;
}

export interface MlpGnbProbeResult {
  /** ĝ⊙ĝ in the flat parameter layout. */
  diag: Float32Array;
  labels?: Int32Array;
  logits?: Float32Array;
}

/** Number of parameters of a tanh MLP with these widths (weights then bias, per layer). */
export function mlpParamCount(sizes: readonly number[]): number {
  let n = 0;
  for (let l = 0; l + 1 < sizes.length; l++) n += sizes[l] * sizes[l + 1] + sizes[l + 1];
  return n;
}

export async function mlpGnbProbe(dev: GpuDeviceCore, o: MlpGnbProbeOptions): Promise<MlpGnbProbeResult> {
  const { sizes, params, inputs, rows } = o;
  if (sizes.length < 2) throw new RangeError('mlpGnbProbe: sizes needs at least two widths');
  checkSize('rows', rows, 1);
  const layers = sizes.length - 1;
  const offsets: { w: number; b: number; inF: number; outF: number }[] = [];
  let off = 0;
  for (let l = 0; l < layers; l++) {
    const inF = sizes[l];
    const outF = sizes[l + 1];
    offsets.push({ w: off, b: off + inF * outF, inF, outF });
    off += inF * outF + outF;
  }
  need('params', params, off);
  need('inputs', inputs, rows * sizes[0]);
  if (!o.labels && !o.uniforms) throw new Error('mlpGnbProbe: give labels or uniforms');
  const temps: DeviceArray[] = [];
  const keep = (x: DeviceArray) => (temps.push(x), x);
  try {
    // forward: acts[l] is the input of layer l
    const acts: DeviceArray[] = [inputs];
    for (let l = 0; l < layers; l++) {
      const { w, b, inF, outF } = offsets[l];
      const act = l + 1 < layers ? 'tanh' : 'none';
      acts.push(keep(await dev.run(linearSource(act), [outF, rows], [acts[l], params, inF, w, b])));
    }
    const classes = sizes[layers];
    const logits = acts[layers];
    const lse = keep(await logSumExpRows(dev, logits, rows, classes));
    const labels = o.labels ?? keep(await sampleLabels(dev, logits, o.uniforms!, rows, classes));
    let dz = keep(await softmaxXentGrad(dev, logits, lse, labels, rows, classes, 1 / rows));
    const pieces: { offset: number; data: DeviceArray }[] = [];
    for (let l = layers - 1; l >= 0; l--) {
      const { w, b, inF, outF } = offsets[l];
      pieces.push({
        offset: w,
        data: keep(await dev.run(weightGradSqSource(), [inF, outF], [dz, acts[l], rows, inF, outF])),
      });
      pieces.push({ offset: b, data: keep(await dev.run(biasGradSqSource(), [outF], [dz, rows, outF])) });
      if (l > 0) dz = keep(await dev.run(backTanhSource(), [inF, rows], [dz, params, acts[l], inF, outF, w]));
    }
    const diag = new Float32Array(off);
    const reads = await Promise.all(pieces.map((p) => dev.download(p.data)));
    pieces.forEach((p, i) => diag.set(reads[i], p.offset));
    const result: MlpGnbProbeResult = { diag };
    if (o.returnLabels) result.labels = Int32Array.from(await dev.download(labels, rows));
    if (o.returnLogits) result.logits = await dev.download(logits, rows * classes);
    return result;
  } finally {
    for (const t of temps) t.free();
  }
}
