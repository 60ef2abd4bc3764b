/**
 * When curvature estimates are launched and when they are applied. The official Sophia loop refreshes
 * after every k-th step on the parameters that step produced, i.e. an estimate on θ_t for
 * t = k, 2k, …, folded in before update t. `first` moves the first launch (0 = before any update);
 * `staleness` delays application by that many steps, the rule the asynchronous pipeline follows in
 * deterministic mode.
 */
import type { Batch } from '../data/batch.js';
import { gnbDiag } from '../curvature/gnb-diag.js';
import { hutchinsonDiag } from '../curvature/hutchinson-diag.js';
import { lossFunction, type Model } from '../nn/model.js';
import { Tensor } from '../tensor/tensor.js';

export interface CurvatureConfig {
  /** 'gnb': Gauss-Newton-Bartlett (Sophia-G); 'hutchinson': z⊙Hz (Sophia-H, AdaHessian). */
  estimator: 'gnb' | 'hutchinson';
  /** Refresh interval k (default 10). */
  every?: number;
  /** Step of the first launch (default k, as the official code). */
  first?: number;
  /** Steps between launch and application (default 0). */
  staleness?: number;
  /** Hutchinson probes per estimate (default 1). */
  probes?: number;
}

export interface ResolvedCurvature {
  estimator: 'gnb' | 'hutchinson';
  every: number;
  first: number;
  staleness: number;
  probes: number;
}

export function resolveCurvature(c: CurvatureConfig): ResolvedCurvature {
  const every = c.every ?? 10;
  const first = c.first ?? every;
  const staleness = c.staleness ?? 0;
  const probes = c.probes ?? 1;
  if (c.estimator !== 'gnb' && c.estimator !== 'hutchinson') {
    throw new RangeError(
      `curvature.estimator must be "gnb" or "hutchinson", got ${JSON.stringify(c.estimator)}`,
    );
  }
  for (const [k, v, min] of [
    ['every', every, 1],
    ['first', first, 0],
    ['staleness', staleness, 0],
    ['probes', probes, 1],
  ] as const) {
    if (!Number.isInteger(v) || v < min)
      throw new RangeError(`curvature.${k} must be an integer >= ${min}, got ${v}`);
  }
  return { estimator: c.estimator, every, first, staleness, probes };
}

/** Whether an estimate is launched at step t. */
export function launchesAt(c: ResolvedCurvature, t: number): boolean {
  return t >= c.first && (t - c.first) % c.every === 0;
}

export interface CurvatureEstimate {
  diag: Float32Array;
  launchedAt: number;
  /** For Hutchinson: the loss and gradient at the same parameters and batch, free with the HVP. */
  loss?: number;
  grad?: Float32Array;
}

/** Computes the estimate launched at step t on parameters θ_t and that step's batch. */
export function estimateCurvature(
  c: ResolvedCurvature,
  model: Model,
  params: Float32Array,
  batch: Batch,
  seed: number,
  t: number,
): CurvatureEstimate {
  const inputs = { data: batch.inputs, shape: batch.inputShape };
  const flat = new Tensor(params, [params.length]);
  if (c.estimator === 'gnb') {
    return { diag: gnbDiag(model, flat, inputs, { seed, step: t }).diag as Float32Array, launchedAt: t };
  }
  const f = lossFunction(model, inputs, batch.targets as Int32Array);
  const e = hutchinsonDiag(f, flat, { seed, step: t, probes: c.probes });
  return { diag: e.diag as Float32Array, launchedAt: t, loss: e.loss, grad: e.grad as Float32Array };
}
