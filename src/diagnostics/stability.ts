/**
 * Stability ratios: each optimizer's linear-stability condition on a quadratic with Hessian H written as
 * a ratio that must stay below 1 (the "edge of stability" monitor).
 *
 * - GD:                η·λmax / 2                       (GD on a quadratic diverges when η > 2/λmax)
 * - heavy-ball momentum β: η·λmax / (2 + 2β)            (diverges when η > (2 + 2β)/λmax)
 * - Adam-type (preconditioner P, first moment β1): η·λmax(P⁻¹H)·(1 − β1)/(2 + 2β1) — the momentum
 *   condition with the EMA-scaled step (1 − β1)η applied to the preconditioned Hessian P⁻¹H
 *   (Cohen et al., "Adaptive gradient methods at the edge of stability")
 * - SGD, small-batch form: η·tr(H) / 2
 *
 * λmax here is the largest algebraic eigenvalue; a non-positive one makes the ratio ≤ 0 (stable in this
 * sense — negative curvature is a saddle, not a step-size divergence).
 */
import type { HvpFn } from './operator.js';
import { type EigenOptions, type LambdaMaxResult, lambdaMaxSteps } from './eigen.js';
import { type Stepwise, finish } from './stepwise.js';
import { checkCount } from './linalg.js';

export type StabilityKind = 'gd' | 'momentum' | 'adam' | 'sgd';

export interface StabilityReport {
  kind: StabilityKind;
  /** The formula evaluated, e.g. "η·λmax/2". */
  formula: string;
  ratio: number;
  stable: boolean;
  /** The learning rate at which the ratio would equal 1 (Infinity when the curvature is ≤ 0). */
  maxStableLr: number;
  /** Plain-language verdict, e.g. "stable: η·λmax/2 = 0.42 is below 1". */
  verdict: string;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? Number(x.toPrecision(3)).toString() : String(x);
}

function checkLr(who: string, lr: number): void {
  if (!(lr > 0) || !Number.isFinite(lr))
    throw new RangeError(`${who}: lr must be a positive number, got ${lr}`);
}

function checkBeta(who: string, name: string, beta: number): void {
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`${who}: ${name} must be in [0, 1), got ${beta}`);
}

function checkCurvature(who: string, name: string, x: number): void {
  if (!Number.isFinite(x)) throw new RangeError(`${who}: ${name} must be finite, got ${x}`);
}

/** Builds the report for ratio = lr · factor. */
function report(kind: StabilityKind, formula: string, lr: number, factor: number): StabilityReport {
  const ratio = lr * factor;
  const stable = ratio < 1;
  const maxStableLr = factor > 0 ? 1 / factor : Infinity;
  const verdict = stable
    ? factor > 0
      ? `stable: ${formula} = ${fmt(ratio)} is below 1 (diverges above lr ≈ ${fmt(maxStableLr)})`
      : `stable: ${formula} = ${fmt(ratio)} is below 1 (no positive curvature to limit the step)`
    : `unstable: ${formula} = ${fmt(ratio)} > 1 — lower lr to ${fmt(maxStableLr)} or below (now ${fmt(lr)})`;
  return { kind, formula, ratio, stable, maxStableLr, verdict };
}

/** Gradient descent: η·λmax/2. */
export function gdStability(lr: number, lambdaMax: number): StabilityReport {
  checkLr('gdStability', lr);
  checkCurvature('gdStability', 'lambdaMax', lambdaMax);
  return report('gd', 'η·λmax/2', lr, lambdaMax / 2);
}

/** Heavy-ball momentum β: η·λmax/(2 + 2β). */
export function momentumStability(lr: number, lambdaMax: number, beta: number): StabilityReport {
  checkLr('momentumStability', lr);
  checkCurvature('momentumStability', 'lambdaMax', lambdaMax);
  checkBeta('momentumStability', 'beta', beta);
  return report('momentum', 'η·λmax/(2+2β)', lr, lambdaMax / (2 + 2 * beta));
}

/** Adam-type: η·λmax(P⁻¹H)·(1 − β1)/(2 + 2β1), given λmax of the preconditioned Hessian. */
export function adamStability(lr: number, preconditionedLambdaMax: number, beta1: number): StabilityReport {
  checkLr('adamStability', lr);
  checkCurvature('adamStability', 'preconditionedLambdaMax', preconditionedLambdaMax);
  checkBeta('adamStability', 'beta1', beta1);
  return report(
    'adam',
    'η·λmax(P⁻¹H)·(1−β1)/(2+2β1)',
    lr,
    (preconditionedLambdaMax * (1 - beta1)) / (2 + 2 * beta1),
  );
}

/** SGD, small-batch form: η·tr(H)/2. */
export function sgdStability(lr: number, trace: number): StabilityReport {
  checkLr('sgdStability', lr);
  checkCurvature('sgdStability', 'trace', trace);
  return report('sgd', 'η·tr(H)/2', lr, trace / 2);
}

/**
 * λmax(P⁻¹H) for a diagonal preconditioner P (e.g. Adam's √v̂ + ε), as the largest eigenvalue of the
 * symmetric P^{-1/2} H P^{-1/2} (same spectrum), by power iteration through the operator.
 */
export function preconditionedLambdaMax(
  hvp: HvpFn,
  n: number,
  preconditioner: ArrayLike<number>,
  options: Omit<EigenOptions, 'k'> = {},
): number {
  return finish(preconditionedLambdaMaxSteps(hvp, n, preconditioner, options)).lambdaMax;
}

/** preconditionedLambdaMax one HVP at a time (see stepwise.ts). */
export function preconditionedLambdaMaxSteps(
  hvp: HvpFn,
  n: number,
  preconditioner: ArrayLike<number>,
  options: Omit<EigenOptions, 'k'> = {},
): Stepwise<LambdaMaxResult> {
  checkCount('preconditionedLambdaMax', n);
  if (preconditioner.length !== n)
    throw new RangeError(
      `preconditionedLambdaMax: preconditioner has ${preconditioner.length} entries, not ${n}`,
    );
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = preconditioner[i];
    if (!(p > 0) || !Number.isFinite(p))
      throw new RangeError(
        `preconditionedLambdaMax: preconditioner[${i}] = ${p} must be positive and finite`,
      );
    s[i] = 1 / Math.sqrt(p);
  }
  const op: HvpFn = (v) => {
    const u = new Float64Array(n);
    for (let i = 0; i < n; i++) u[i] = s[i] * v[i];
    const hu = hvp(u);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = s[i] * hu[i];
    return out;
  };
  return lambdaMaxSteps(op, n, options);
}
