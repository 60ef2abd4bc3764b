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
import { sophiaHClipInto } from '../kernels/passes.js';
import { takeArray } from './array-pool.js';
import type { ChainState } from './chain.js';
import { decoupledDecayAlias, type DecoupledDecayOptions } from './decoupled-decay-alias.js';
import { initSophiaState, readSophiaState, sophiaMoments, sophiaStats } from './sophia-state.js';
import type { SophiaState } from './sophia-state.js';
import { nextHessianCounters } from './stats.js';
import type { GradientTransformation } from './transform.js';
import { checkKnownOptions, checkNumber } from './validate.js';

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
      return initSophiaState(params.length);
    },
    update(grads, state, _params, extra) {
      const read = readSophiaState(owner, state, grads);
      const count = read.count + 1;
      const { m0, h0, prevStats } = read;
      const hHat = extra?.hessianDiag;
      const { m, h } = sophiaMoments(owner, b1, b2, grads, m0, h0, hHat, extra);
      const d = grads.length;
      const bc1 = 1 - b1 ** count;
      const out = takeArray(d, extra);
      // u = m/bc1/max(γ·h, eps), out = clamp(u, ±clip), counting |u| < clip (wasm SIMD, bit-identical).
      const unclipped = sophiaHClipInto(out, m, h, bc1, gamma, eps, clip);
      const counters = nextHessianCounters(prevStats, hHat !== undefined);
      const stats = sophiaStats(prevStats, m, h0, h, unclipped, counters);
      return [out, { count, m, h, stats }];
    },
  };
}

export interface SophiaHOptions extends ScaleBySophiaHOptions, DecoupledDecayOptions {}

/**
 * Defaults: β (0.965, 0.99), γ 0.01, clip 1 and weight decay 1e-4 as optax.contrib.sophia; ε 1e-12 as
 * levanter's Sophia config; lr 0.85e-3 as levanter's sophia_h (optax has no default lr).
 */
export function sophiaH(options: SophiaHOptions = {}): GradientTransformation<ChainState> {
  return decoupledDecayAlias(
    'sophiaH',
    options,
    ['b1', 'b2', 'eps', 'gamma', 'clipThreshold'],
    { lr: 0.85e-3, weightDecay: 1e-4 },
    scaleBySophiaH,
  );
}
