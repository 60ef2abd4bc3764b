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
import { hvpPair } from '../curvature/hvp-pair.js';
import type { UpdateExtra } from '../optim/transform.js';
import { lossFunction, type Model } from '../nn/model.js';
import { Tensor } from '../tensor/tensor.js';
import type { PendingEstimate } from './records.js';

/**
 * 'gnb': Gauss-Newton-Bartlett diagonal (Sophia-G); 'hutchinson': z⊙Hz (Sophia-H, AdaHessian);
 * 'hvp-pair': one pair (v, H·v) for PSGD-Kron's Hessian fitting (curvature/hvp-pair.ts);
 * 'gnb-gradient': GNB's sampled-label gradient ĝ itself, unsquared (SOAP-Sophia's Kronecker factors and
 * rotated curvature); the same pass as 'gnb', carried in the estimate's `diag` and handed to the
 * optimizer as `extra.curvatureGradient`.
 */
export type CurvatureEstimator = 'gnb' | 'hutchinson' | 'hvp-pair' | 'gnb-gradient';

export const CURVATURE_ESTIMATORS: readonly CurvatureEstimator[] = [
  'gnb',
  'hutchinson',
  'hvp-pair',
  'gnb-gradient',
];

export interface CurvatureConfig {
  estimator: CurvatureEstimator;
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
  estimator: CurvatureEstimator;
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
  if (!CURVATURE_ESTIMATORS.includes(c.estimator)) {
    throw new RangeError(
      `curvature.estimator must be one of ${CURVATURE_ESTIMATORS.map((e) => `"${e}"`).join(', ')}, got ${JSON.stringify(c.estimator)}`,
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

/**
 * A computed estimate: what is queued for its step and, for Hutchinson, the loss and gradient at the
 * same parameters and batch, free with the HVP.
 */
export interface CurvatureEstimate extends PendingEstimate {
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
  if (c.estimator === 'gnb' || c.estimator === 'gnb-gradient') {
    const unsquared = c.estimator === 'gnb-gradient';
    return {
      diag: gnbDiag(model, flat, inputs, { seed, step: t, unsquared }).diag as Float32Array,
      launchedAt: t,
    };
  }
  const f = lossFunction(model, inputs, batch.targets as Int32Array);
  if (c.estimator === 'hvp-pair') {
    const p = hvpPair(f, flat, { seed, step: t });
    const pair = { v: p.v as Float32Array, hv: p.hv as Float32Array };
    return { diag: new Float32Array(0), pair, launchedAt: t };
  }
  const e = hutchinsonDiag(f, flat, { seed, step: t, probes: c.probes });
  return { diag: e.diag as Float32Array, launchedAt: t, loss: e.loss, grad: e.grad as Float32Array };
}

/** The record queued for an estimate: its vectors and launch step, nothing else. */
export function queuedEstimate(e: PendingEstimate): PendingEstimate {
  return { diag: e.diag, ...(e.pair ? { pair: e.pair } : {}), launchedAt: e.launchedAt };
}

/**
 * What an estimate due now adds to the optimizer's `extra`: `hessianPair`, `curvatureGradient` (the
 * 'gnb-gradient' estimator's ĝ, which travels in `diag`) or `hessianDiag`.
 */
export function estimateExtra(
  due: PendingEstimate | null,
  estimator?: CurvatureEstimator,
): Pick<UpdateExtra, 'hessianDiag' | 'hessianPair' | 'curvatureGradient'> {
  if (!due) return {};
  if (due.pair) return { hessianPair: due.pair };
  return estimator === 'gnb-gradient' ? { curvatureGradient: due.diag } : { hessianDiag: due.diag };
}

/** Whether every value an estimate carries is finite (a non-finite one is dropped with its step). */
export function estimateFinite(e: PendingEstimate): boolean {
  for (const a of e.pair ? [e.diag, e.pair.v, e.pair.hv] : [e.diag])
    for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return false;
  return true;
}
