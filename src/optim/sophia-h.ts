/**
 * Sophia-H as optax.contrib `_sophia.py` (itself from levanter's sophia.py):
 *
 *   m ← β1·m + (1−β1)·g,  m̂ = m/(1 − β1^t)                       (bias-corrected)
 *   u = clip(m̂ / max(γ·h, ε), −c, c)                              (c = clip threshold, 1)
 *   updates = −lr·(u + wd·θ)                                        (add_decayed_weights, then the lr)
 *   h ← β2·h + (1−β2)·ĥ     when an estimate ĥ = z⊙Hz arrives (h starts at 0)
 *
 * Timing: optax computes ĥ on θ_t inside step t and folds it in AFTER that step's update, so it first acts
 * at step t+1. Here, as in Sophia-G, the estimate is folded in at the step that delivers it, before the
 * update; delivering optax's ĥ_t one step later (at t+1) reproduces optax exactly. Max with ε (not +ε)
 * means a negative curvature gives ε, hence a clipped, sign-like step.
 */
import { chain, type ChainState } from './chain.js';
import { scaleByLearningRate } from './learning-rate.js';
import type { SophiaState } from './sophia-g.js';
import { checkStats, initialStats, nextHessianCounters, vectorStats, type CurvatureStats } from './stats.js';
import type { CoordinateMask, GradientTransformation, ScalarOrSchedule } from './transform.js';
import {
  checkKnownOptions,
  checkLength,
  checkMask,
  checkNumber,
  checkScalarOrSchedule,
  checkStateCount,
  checkStateObject,
  checkStateVector,
} from './validate.js';
import { addDecayedWeights } from './weight-decay.js';

export interface ScaleBySophiaHOptions {
  b1?: number;
  b2?: number;
  eps?: number;
  gamma?: number;
  clipThreshold?: number;
}

export function scaleBySophiaH(options: ScaleBySophiaHOptions = {}): GradientTransformation<SophiaState> {
  const owner = 'sophiaH';
  checkKnownOptions(owner, options, ['b1', 'b2', 'eps', 'gamma', 'clipThreshold']);
  const b1 = checkNumber(owner, 'b1', options.b1 ?? 0.965, { min: 0, max: 1, maxExclusive: true });
  const b2 = checkNumber(owner, 'b2', options.b2 ?? 0.99, { min: 0, max: 1, maxExclusive: true });
  const eps = checkNumber(owner, 'eps', options.eps ?? 1e-12, { min: 0, minExclusive: true });
  const gamma = checkNumber(owner, 'gamma', options.gamma ?? 0.01, { min: 0, minExclusive: true });
  const clip = checkNumber(owner, 'clipThreshold', options.clipThreshold ?? 1, {
    min: 0,
    minExclusive: true,
  });
  return {
    freshUpdates: true,
    init(params) {
      const d = params.length;
      return { count: 0, m: new Float32Array(d), h: new Float32Array(d), stats: initialStats() };
    },
    update(grads, state, _params, extra) {
      const s = checkStateObject(owner, state);
      const count = checkStateCount(owner, s.count) + 1;
      const m0 = checkStateVector(owner, 'm', s.m);
      const h0 = checkStateVector(owner, 'h', s.h, m0.length);
      const prevStats = checkStats(owner, s.stats);
      checkLength(owner, 'gradient', grads, m0.length);
      const hHat = extra?.hessianDiag;
      if (hHat !== undefined) checkLength(owner, 'extra.hessianDiag', hHat, m0.length);

      const d = grads.length;
      const m = new Float32Array(d);
      for (let i = 0; i < d; i++) m[i] = b1 * m0[i] + (1 - b1) * grads[i];
      let h = h0;
      if (hHat !== undefined) {
        h = new Float32Array(d);
        for (let i = 0; i < d; i++) h[i] = b2 * h0[i] + (1 - b2) * hHat[i];
      }
      const bc1 = 1 - b1 ** count;
      const out = new Float32Array(d);
      let unclipped = 0;
      for (let i = 0; i < d; i++) {
        const u = m[i] / bc1 / Math.max(gamma * h[i], eps);
        if (Math.abs(u) < clip) unclipped++;
        out[i] = Math.min(Math.max(u, -clip), clip);
      }
      // h only changes when an estimate arrives; in between its mean/max/min are last step's.
      const hs =
        h === h0 ? { mean: prevStats.hMean, max: prevStats.hMax, min: prevStats.hMin } : vectorStats(h);
      const [hessianUpdates, stepsSinceHessian] = nextHessianCounters(prevStats, hHat !== undefined);
      const stats: CurvatureStats = {
        winRate: d === 0 ? 0 : unclipped / d,
        hMean: hs.mean,
        hMax: hs.max,
        hMin: hs.min,
        hessianUpdates,
        stepsSinceHessian,
      };
      return [out, { count, m, h, stats }];
    },
  };
}

export interface SophiaHOptions extends ScaleBySophiaHOptions {
  lr?: ScalarOrSchedule;
  weightDecay?: number;
  mask?: CoordinateMask;
}

/**
 * Defaults: β (0.965, 0.99), γ 0.01, clip 1 and weight decay 1e-4 as optax.contrib.sophia; ε 1e-12 as
 * levanter's Sophia config; lr 0.85e-3 as levanter's sophia_h (optax has no default lr).
 */
export function sophiaH(options: SophiaHOptions = {}): GradientTransformation<ChainState> {
  const owner = 'sophiaH';
  checkKnownOptions(owner, options, [
    'lr',
    'b1',
    'b2',
    'eps',
    'gamma',
    'clipThreshold',
    'weightDecay',
    'mask',
  ]);
  const lr = checkScalarOrSchedule(owner, 'lr', options.lr ?? 0.85e-3);
  const wd = checkNumber(owner, 'weightDecay', options.weightDecay ?? 1e-4, { min: 0 });
  const mask = checkMask(owner, 'mask', options.mask);
  const { b1, b2, eps, gamma, clipThreshold } = options;
  return chain(
    scaleBySophiaH({ b1, b2, eps, gamma, clipThreshold }),
    addDecayedWeights(wd, mask),
    scaleByLearningRate(lr),
  );
}
