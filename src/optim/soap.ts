/**
 * SOAP: Adam in the eigenbasis of Shampoo's Kronecker factors (Vyas et al. 2024, "SOAP: Improving and
 * Stabilizing Shampoo using Adam"; official nikhilvyas/SOAP soap.py). The step is in soap-core.ts, the
 * tensor plan in soap-plan.ts, the eigenbases in eigenbasis.ts. Needs the parameter layout at init.
 *
 * Defaults are the official ones: lr 3e-3, betas (0.95, 0.95), shampoo_beta = β2 when unset, eps 1e-8,
 * weight decay 0.01, precondition_frequency 10, max_precond_dim 10000, merge_dims false,
 * precondition_1d false, normalize_grads false, correct_bias true.
 *
 * Where this differs from soap.py, and why:
 * - weight decay: the aliases' decoupled convention θ(1 − lr·wd) − lr·u; soap.py decays after the step,
 *   (θ − lr·u)(1 − lr·wd): a difference of lr²·wd·u;
 * - exp_avg is moved between bases only when a basis changes (soap.py round-trips it every step);
 * - eigendecompositions and QRs run in float64 (Householder + QL, blocked Householder QR) where soap.py
 *   uses float32 torch.linalg; signs and the basis chosen inside a degenerate eigenspace may differ, the
 *   products and moments are float32 as there;
 * - a non-finite factor, basis or result gives NaN updates and the unchanged state (a skipped step)
 *   instead of propagating NaN into the state;
 * - only 2-D tensors are preconditioned (the layout's matrix/embedding/head roles); other N-D tensors
 *   are treated as vectors (soap.py would give every dimension of a conv kernel a factor), and
 *   merge_dims only has its 2-D meaning (the whole tensor as one dimension when it fits maxPrecondDim).
 */
import { chain, type ChainState } from './chain.js';
import type { DecoupledDecayOptions } from './decoupled-decay-alias.js';
import { scaleByLearningRate } from './learning-rate.js';
import { soapCore, type SoapCoreConfig, type SoapState } from './soap-core.js';
import { TENSOR_ROLES, type TensorRole } from './tensor-layout.js';
import type { GradientTransformation } from './transform.js';
import {
  checkBoolean,
  checkKnownOptions,
  checkMask,
  checkNumber,
  checkScalarOrSchedule,
} from './validate.js';
import { addDecayedWeights } from './weight-decay.js';

export type { SoapFactors, SoapState } from './soap-core.js';
export type { SoapBlock } from './soap-plan.js';

/** Options every SOAP variant shares (the tensor plan, the factors and their eigenbases). */
export interface SoapBasisOptions {
  /** EMA rate of the Shampoo factors L, R (soap.py shampoo_beta); default b2, as the official −1. */
  shampooBeta?: number;
  /** Refresh the eigenbases every this many steps (power iteration + QR), default 10. */
  preconditionFrequency?: number;
  /** Dimensions larger than this stay unrotated (identity), default 10000. */
  maxPrecondDim?: number;
  /** A 2-D tensor of at most maxPrecondDim elements gets one factor over all its elements, default false. */
  mergeDims?: boolean;
  /** Rotate 1-D tensors (biases, norm gains) too, default false (they get plain Adam). */
  precondition1d?: boolean;
  /** Roles of 2-D tensors that are rotated, default ['matrix', 'embedding', 'head'] (every 2-D tensor). */
  roles?: readonly TensorRole[];
  /**
   * What the Kronecker factors accumulate: the gradient ('gradient', SOAP), or the curvature gradient ĝ
   * of extra.curvatureGradient when it arrives ('curvature': a Gauss–Newton/K-FAC-like eigenbasis).
   */
  factors?: 'gradient' | 'curvature';
}

export interface ScaleBySoapOptions extends SoapBasisOptions {
  b1?: number;
  b2?: number;
  eps?: number;
  /** Divide u by its RMS per tensor (soap.py normalize_grads), default false. */
  normalizeGrads?: boolean;
  /** Adam's bias correction, √(1 − β2ᵗ)/(1 − β1ᵗ) on the step (eps not corrected, as official), default true. */
  correctBias?: boolean;
}

export const SOAP_BASIS_KEYS = [
  'shampooBeta',
  'preconditionFrequency',
  'maxPrecondDim',
  'mergeDims',
  'precondition1d',
  'roles',
  'factors',
] as const;
const SCALE_KEYS = ['b1', 'b2', 'eps', 'normalizeGrads', 'correctBias', ...SOAP_BASIS_KEYS] as const;

const unit = { min: 0, max: 1, maxExclusive: true };

/** Checks the shared options; `b2` is the variant's β2 (shampooBeta's default). */
export function checkSoapBasisOptions(
  owner: string,
  o: SoapBasisOptions,
  b2: number,
): Omit<SoapCoreConfig, 'owner' | 'b1' | 'b2' | 'eps' | 'correctBias' | 'normalizeGrads' | 'step'> {
  const roles = o.roles ?? ['matrix', 'embedding', 'head'];
  if (!Array.isArray(roles) || !roles.every((r) => TENSOR_ROLES.includes(r)))
    throw new Error(
      `${owner}: option 'roles' must be an array of ${TENSOR_ROLES.join(', ')}, got ${JSON.stringify(roles)}`,
    );
  const factors = o.factors ?? 'gradient';
  if (factors !== 'gradient' && factors !== 'curvature')
    throw new Error(`${owner}: option 'factors' must be 'gradient' or 'curvature', got ${String(factors)}`);
  return {
    shampooBeta: checkNumber(owner, 'shampooBeta', o.shampooBeta ?? b2, unit),
    frequency: checkNumber(owner, 'preconditionFrequency', o.preconditionFrequency ?? 10, {
      min: 1,
      integer: true,
    }),
    maxPrecondDim: checkNumber(owner, 'maxPrecondDim', o.maxPrecondDim ?? 10000, { min: 0, integer: true }),
    mergeDims: checkBoolean(owner, 'mergeDims', o.mergeDims ?? false),
    precondition1d: checkBoolean(owner, 'precondition1d', o.precondition1d ?? false),
    roles: [...roles],
    factors,
  };
}

/** SOAP's preconditioned direction (to be scaled by −lr): Adam in the Shampoo eigenbasis. */
export function scaleBySoap(options: ScaleBySoapOptions = {}): GradientTransformation<SoapState> {
  const owner = 'scaleBySoap';
  checkKnownOptions(owner, options, SCALE_KEYS);
  const b1 = checkNumber(owner, 'b1', options.b1 ?? 0.95, unit);
  const b2 = checkNumber(owner, 'b2', options.b2 ?? 0.95, unit);
  return soapCore({
    owner,
    b1,
    b2,
    eps: checkNumber(owner, 'eps', options.eps ?? 1e-8, { min: 0 }),
    normalizeGrads: checkBoolean(owner, 'normalizeGrads', options.normalizeGrads ?? false),
    correctBias: checkBoolean(owner, 'correctBias', options.correctBias ?? true),
    ...checkSoapBasisOptions(owner, options, b2),
    step: { kind: 'adam' },
  });
}

/**
 * chain(scale, decoupled decay, lr) whose first update is all zeros: soap.py's first step only builds the
 * preconditioner and returns before the update and the weight decay of every parameter. The chain still
 * runs (the lr schedule's count advances, as a scheduler stepped beside the optimizer would).
 * The decay is the alias convention θ(1 − lr·wd) − lr·u; soap.py decays after the step,
 * (θ − lr·u)(1 − lr·wd), which differs by lr²·wd·u.
 */
export function firstStepSkippingAlias<S>(
  owner: string,
  options: DecoupledDecayOptions,
  defaults: { lr: number; weightDecay: number },
  scale: GradientTransformation<S>,
): GradientTransformation<ChainState> {
  const lr = checkScalarOrSchedule(owner, 'lr', options.lr ?? defaults.lr);
  const wd = checkNumber(owner, 'weightDecay', options.weightDecay ?? defaults.weightDecay, { min: 0 });
  const mask = checkMask(owner, 'mask', options.mask);
  const inner = chain(scale as GradientTransformation, addDecayedWeights(wd, mask), scaleByLearningRate(lr));
  return {
    freshUpdates: true,
    init: (params, layout) => inner.init(params, layout),
    update(grads, state, params, extra) {
      const first = Array.isArray(state) && (state[0] as { count?: unknown } | null)?.count === 0;
      const [u, next] = inner.update(grads, state, params, extra);
      // A skipped (non-finite) first step stays NaN so the caller skips it.
      if (first && u.every((x) => !Number.isNaN(x))) u.fill(0);
      return [u, next];
    },
  };
}

export interface SoapOptions extends ScaleBySoapOptions, DecoupledDecayOptions {}

/** SOAP with the official defaults: lr 3e-3, β (0.95, 0.95), eps 1e-8, weight decay 0.01, f = 10. */
export function soap(options: SoapOptions = {}): GradientTransformation<ChainState> {
  const owner = 'soap';
  checkKnownOptions(owner, options, ['lr', ...SCALE_KEYS, 'weightDecay', 'mask']);
  const { lr, weightDecay, mask, ...scale } = options;
  return firstStepSkippingAlias(
    owner,
    { lr, weightDecay, mask },
    { lr: 3e-3, weightDecay: 0.01 },
    scaleBySoap(scale),
  );
}
