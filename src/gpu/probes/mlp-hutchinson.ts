/**
 * The device-resident Hutchinson probe of a tanh MLP (src/nn/models/mlp.ts with activation 'tanh'):
 * the mean cross-entropy's loss and gradient, and for each Rademacher direction v the product v ⊙ Hv
 * by Pearlmutter's R-operator — a forward pass of R(z), then the backward pass differentiated along v —
 * all in gpu.js kernels (mlp-hvp-sources.ts); only the gradient, the per-direction products and the logits
 * (for the loss) are read back. The estimate averages the directions exactly as src/curvature
 * `hutchinsonDiag` does: diag += (v ⊙ Hv) / probes, in float32, direction by direction.
 */
import { checkSize, need, type DeviceArray, type GpuDeviceCore } from '../device/core.js';
import { logSumExpRows, softmaxXentGrad } from '../device/elementwise.js';
import { backTanhSource, linearSource } from './mlp-sources.js';
import {
  biasGradSource,
  biasHvpSource,
  rBackTanhSource,
  rLinearSource,
  rSoftmaxXentSource,
  weightGradSource,
  weightHvpSource,
} from './mlp-hvp-sources.js';

export interface MlpHutchinsonProbeOptions {
  /** Layer widths [in, hidden…, classes]; tanh between layers. */
  sizes: readonly number[];
  /** Flat parameters in the MLP's layout (layers.{l}.weight [out, in], then layers.{l}.bias). */
  params: DeviceArray;
  /** Features [rows, sizes[0]]. */
  inputs: DeviceArray;
  /** The targets' class ids (as floats), one per row. */
  labels: DeviceArray;
  rows: number;
  /** The directions v (Rademacher ±1 in the flat layout), one per probe. */
  directions: readonly DeviceArray[];
}

export interface MlpHutchinsonProbeResult {
  /** (1/probes)·Σ_v v ⊙ Hv in the flat layout. */
  diag: Float32Array;
  /** The mean cross-entropy against the labels (from the read-back logits, in float64). */
  loss: number;
  grad: Float32Array;
}

interface Layer {
  w: number;
  b: number;
  inF: number;
  outF: number;
}

function layersOf(sizes: readonly number[]): { layers: Layer[]; size: number } {
  const layers: Layer[] = [];
  let off = 0;
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [inF, outF] = [sizes[l], sizes[l + 1]];
    layers.push({ w: off, b: off + inF * outF, inF, outF });
    off += inF * outF + outF;
  }
  return { layers, size: off };
}

export async function mlpHutchinsonProbe(
  dev: GpuDeviceCore,
  o: MlpHutchinsonProbeOptions,
): Promise<MlpHutchinsonProbeResult> {
  const { sizes, params, inputs, labels, rows, directions } = o;
  if (sizes.length < 2) throw new RangeError('mlpHutchinsonProbe: sizes needs at least two widths');
  checkSize('rows', rows, 1);
  if (directions.length < 1) throw new RangeError('mlpHutchinsonProbe: give at least one direction');
  const { layers, size } = layersOf(sizes);
  need('params', params, size);
  need('inputs', inputs, rows * sizes[0]);
  need('labels', labels, rows);
  for (const v of directions) need('direction', v, size);
  const L = layers.length;
  const classes = sizes[L];
  const temps: DeviceArray[] = [];
  const keep = (x: DeviceArray) => (temps.push(x), x);
  const read = async (pieces: { offset: number; data: DeviceArray }[]) => {
    const out = new Float32Array(size);
    const got = await Promise.all(pieces.map((p) => dev.download(p.data)));
    pieces.forEach((p, i) => out.set(got[i], p.offset));
    return out;
  };
  try {
    // forward: acts[l] is the input of layer l, acts[L] the logits
    const acts: DeviceArray[] = [inputs];
    for (let l = 0; l < L; l++) {
      const { w, b, inF, outF } = layers[l];
      const act = l + 1 < L ? 'tanh' : 'none';
      acts.push(keep(await dev.run(linearSource(act), [outF, rows], [acts[l], params, inF, w, b])));
    }
    const logits = acts[L];
    const lse = keep(await logSumExpRows(dev, logits, rows, classes));
    // backward: dz[l] = ∂L/∂(pre-activation of layer l)
    const dz: DeviceArray[] = new Array<DeviceArray>(L);
    dz[L - 1] = keep(await softmaxXentGrad(dev, logits, lse, labels, rows, classes, 1 / rows));
    const gradPieces: { offset: number; data: DeviceArray }[] = [];
    for (let l = L - 1; l >= 0; l--) {
      const { w, b, inF, outF } = layers[l];
      const gw = await dev.run(weightGradSource(), [inF, outF], [dz[l], acts[l], rows, inF, outF]);
      gradPieces.push({ offset: w, data: keep(gw) });
      gradPieces.push({
        offset: b,
        data: keep(await dev.run(biasGradSource(), [outF], [dz[l], rows, outF])),
      });
      if (l > 0)
        dz[l - 1] = keep(
          await dev.run(backTanhSource(), [inF, rows], [dz[l], params, acts[l], inF, outF, w]),
        );
    }
    const diag = new Float32Array(size);
    for (const v of directions) {
      // R-forward: ra[l] = R(acts[l]); ra[0] = 0 (the inputs do not depend on θ)
      const ra: (DeviceArray | null)[] = [null];
      for (let l = 0; l < L; l++) {
        const { w, b, inF, outF } = layers[l];
        const tanh = l + 1 < L;
        const args = [
          ...(l === 0 ? [] : [ra[l]]),
          acts[l],
          params,
          v,
          ...(tanh ? [acts[l + 1]] : []),
          inF,
          outF,
          w,
          b,
        ];
        ra.push(keep(await dev.run(rLinearSource(l === 0, tanh), [outF, rows], args)));
      }
      // R-backward
      const scale = 1 / rows;
      let rdz = keep(
        await dev.run(rSoftmaxXentSource(), [classes, rows], [logits, lse, ra[L], classes, scale]),
      );
      const pieces: { offset: number; data: DeviceArray }[] = [];
      for (let l = L - 1; l >= 0; l--) {
        const { w, b, inF, outF } = layers[l];
        const wArgs = l === 0 ? [rdz, acts[l], v] : [rdz, dz[l], acts[l], ra[l], v];
        const hw = await dev.run(weightHvpSource(l === 0), [inF, outF], [...wArgs, rows, inF, outF, w]);
        pieces.push({ offset: w, data: keep(hw) });
        pieces.push({
          offset: b,
          data: keep(await dev.run(biasHvpSource(), [outF], [rdz, v, rows, outF, b])),
        });
        if (l > 0)
          rdz = keep(
            await dev.run(
              rBackTanhSource(),
              [inF, rows],
              [rdz, dz[l], params, v, acts[l], ra[l], inF, outF, w],
            ),
          );
      }
      const vhv = await read(pieces);
      for (let i = 0; i < size; i++) diag[i] += vhv[i] / directions.length;
    }
    const grad = await read(gradPieces);
    const l = await dev.download(logits, rows * classes);
    const lv = await dev.download(lse, rows);
    const y = await dev.download(labels, rows);
    let loss = 0;
    for (let r = 0; r < rows; r++) loss += lv[r] - l[r * classes + y[r]];
    return { diag, loss: loss / rows, grad };
  } finally {
    for (const t of temps) t.free();
  }
}
