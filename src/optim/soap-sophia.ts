/**
 * SOAP-Sophia: Sophia-G's clipped step taken in SOAP's eigenbasis. Per block, with m' = Q_Lᵀ m Q_R and a
 * diagonal curvature EMA h' in the eigenbasis,
 *
 *   u' = sign(m')·min(|m'| / (ρ·h' + 1e-15), 1),   u = Q_L u' Q_Rᵀ,
 *
 * (with `nesterov`, m' in u' is Muon's look-ahead β1·m' + (1−β1)·G', G' = Q_Lᵀ G Q_R the rotated gradient),
 *
 * with ρ chosen every step per block (tensor) as the `winRateTarget` quantile of |m'|/h' (the rule of
 * group-quantile.ts), so a fraction winRateTarget of each tensor's coordinates is unclipped whatever the
 * tensor's curvature scale. That scale-freedom is why no batch size enters: ρ absorbs it.
 *
 * Where h' comes from (`curvature`):
 * - 'squaredGradient': h' ← β2·h' + (1−β2)·(Q_Lᵀ G Q_R)² every step, no extra pass (Adam's v);
 * - 'curvatureGradient': only when extra.curvatureGradient ĝ arrives (every k steps, from the probe's
 *   sampled-label backward pass), h' ← β2·h' + (1−β2)·(Q_Lᵀ ĝ Q_R)²: the Gauss–Newton diagonal in the
 *   eigenbasis. Until the first ĝ, h' = 0 and steps are lr·sign in the eigenbasis (as Sophia-G's).
 * With `factors: 'curvature'` the Kronecker factors L, R also accumulate ĝĝᵀ, ĝᵀĝ instead of the
 * gradient's, so the eigenbasis is that of a K-FAC-style Gauss–Newton approximation.
 *
 * m and h' have no bias correction (as Sophia-G; the quantile rule is invariant to m's scale anyway).
 */
import type { ChainState } from './chain.js';
import type { DecoupledDecayOptions } from './decoupled-decay-alias.js';
import { soapCore, type SoapState } from './soap-core.js';
import {
  SOAP_BASIS_KEYS,
  checkSoapBasisOptions,
  firstStepSkippingAlias,
  type SoapBasisOptions,
} from './soap.js';
import type { GradientTransformation } from './transform.js';
import { checkBoolean, checkKnownOptions, checkNumber } from './validate.js';

export interface ScaleBySoapSophiaOptions extends SoapBasisOptions {
  b1?: number;
  b2?: number;
  /** Fraction of each tensor's coordinates left unclipped, in (0, 1); default 0.9. */
  winRateTarget?: number;
  /** Source of h': 'squaredGradient' (default) or 'curvatureGradient' (extra.curvatureGradient). */
  curvature?: 'squaredGradient' | 'curvatureGradient';
  /**
   * Clip the Nesterov look-ahead β1·m' + (1−β1)·G' instead of m' (Muon's momentum; soap.py has none),
   * default false.
   */
  nesterov?: boolean;
}

const SCALE_KEYS = ['b1', 'b2', 'winRateTarget', 'curvature', 'nesterov', ...SOAP_BASIS_KEYS] as const;

export function scaleBySoapSophia(options: ScaleBySoapSophiaOptions = {}): GradientTransformation<SoapState> {
  const owner = 'scaleBySoapSophia';
  checkKnownOptions(owner, options, SCALE_KEYS);
  const unit = { min: 0, max: 1, maxExclusive: true };
  const b1 = checkNumber(owner, 'b1', options.b1 ?? 0.965, unit);
  const b2 = checkNumber(owner, 'b2', options.b2 ?? 0.99, unit);
  const winRateTarget = checkNumber(owner, 'winRateTarget', options.winRateTarget ?? 0.9, {
    ...unit,
    minExclusive: true,
  });
  const curvature = options.curvature ?? 'squaredGradient';
  if (curvature !== 'squaredGradient' && curvature !== 'curvatureGradient')
    throw new Error(
      `${owner}: option 'curvature' must be 'squaredGradient' or 'curvatureGradient', got ${String(curvature)}`,
    );
  return soapCore({
    owner,
    b1,
    b2,
    eps: 0,
    normalizeGrads: false,
    correctBias: false,
    ...checkSoapBasisOptions(owner, options, b2),
    step: {
      kind: 'sophia',
      winRateTarget,
      curvature: curvature === 'curvatureGradient' ? 'curvature' : 'gradient',
      nesterov: checkBoolean(owner, 'nesterov', options.nesterov ?? false),
    },
  });
}

export interface SoapSophiaOptions extends ScaleBySoapSophiaOptions, DecoupledDecayOptions {}

/**
 * SOAP-Sophia with Sophia-G's official lr 1e-4 and weight decay 0.1, β (0.965, 0.99), win-rate target
 * 0.9. With the target most coordinates take a fraction of lr, so useful rates are far above 1e-4 (the
 * Sophia-G win-rate preset uses 1.2e-2): tune lr.
 */
export function soapSophia(options: SoapSophiaOptions = {}): GradientTransformation<ChainState> {
  const owner = 'soapSophia';
  checkKnownOptions(owner, options, ['lr', ...SCALE_KEYS, 'weightDecay', 'mask']);
  const { lr, weightDecay, mask, ...scale } = options;
  return firstStepSkippingAlias(
    owner,
    { lr, weightDecay, mask },
    { lr: 1e-4, weightDecay: 0.1 },
    scaleBySoapSophia(scale),
  );
}
