/**
 * Sophia-G, exactly as the official Liuhong99/Sophia sophia.py (SophiaG.step / update_hessian):
 *
 *   θ ← θ·(1 − lr·wd)                                   (decoupled decay first, on the old θ)
 *   m ← β1·m + (1−β1)·g                                  (no bias correction)
 *   h ← β2·h + (1−β2)·ĥ        only when an estimate ĥ arrives (h starts at 0)
 *   θ ← θ − lr·sign(m)·min(|m| / (ρ·bs·h + 1e-15), 1)
 *
 * ĥ is the GNB estimate ĝ⊙ĝ of the mean loss against sampled labels, so ρ·bs·h with bs = predictions per
 * minibatch is the Gauss-Newton diagonal scaled by ρ. The official script calls update_hessian after a step
 * and the next step then uses it; here the estimate comes with the step that uses it, which is the same
 * sequence of arithmetic. Until the first estimate h = 0 and each step is lr·sign(m).
 */
import { sophiaGClipInto } from '../kernels/passes.js';
import { takeArray } from './array-pool.js';
import type { ChainState } from './chain.js';
import { decoupledDecayAlias, type DecoupledDecayOptions } from './decoupled-decay-alias.js';
import { checkGroups, type CoordinateGroups, quantileSelect } from './group-quantile.js';
import { initSophiaState, readSophiaState, sophiaMoments, sophiaStats } from './sophia-state.js';
import type { SophiaState } from './sophia-state.js';
import { nextHessianCounters } from './stats.js';
import type { GradientTransformation } from './transform.js';
import { checkBoolean, checkKnownOptions, checkNumber } from './validate.js';

export type { SophiaState } from './sophia-state.js';

export interface ScaleBySophiaGOptions {
  b1?: number;
  b2?: number;
  rho?: number;
  /**
   * Divide h by 1 − β2ⁿ after n estimates, as Adam does for its moments (default false: the official
   * code has none). h starts at 0, so without it h under-estimates the curvature by 1/(1 − β2ⁿ): with
   * β2 = 0.99 and k = 10 that is 10× at step 100 and still 1.6× at step 1000, and the clip fires on
   * nearly every coordinate long after the curvature is known.
   */
  biasCorrection?: boolean;
  /**
   * Hold each group's win-rate at this fraction in (0, 1) by choosing the group's ρ every step as the
   * quantile of |m|/(bs·h) (see group-quantile.ts); `rho` then only applies outside the groups. Default:
   * unset, one fixed ρ (the official rule).
   */
  winRateTarget?: number;
  /** Coordinate ranges that each get their own ρ under `winRateTarget` (default: one group, everything). */
  groups?: CoordinateGroups;
}

/** The denominator guard of the official code, added (not max'ed) to ρ·bs·h. */
const SOPHIA_G_EPS = 1e-15;

/** Emits sign(m)·min(|m|/(ρ·bs·h + 1e-15), 1); needs extra.batchSize every step. */
export function scaleBySophiaG(options: ScaleBySophiaGOptions = {}): GradientTransformation<SophiaState> {
  const owner = 'sophiaG';
  checkKnownOptions(owner, options, ['b1', 'b2', 'rho', 'biasCorrection', 'winRateTarget', 'groups']);
  const b1 = checkNumber(owner, 'b1', options.b1 ?? 0.965, { min: 0, max: 1, maxExclusive: true });
  const b2 = checkNumber(owner, 'b2', options.b2 ?? 0.99, { min: 0, max: 1, maxExclusive: true });
  const rho = checkNumber(owner, 'rho', options.rho ?? 0.04, { min: 0 });
  const biasCorrection = checkBoolean(owner, 'biasCorrection', options.biasCorrection ?? false);
  const target =
    options.winRateTarget === undefined
      ? undefined
      : checkNumber(owner, 'winRateTarget', options.winRateTarget, {
          min: 0,
          max: 1,
          minExclusive: true,
          maxExclusive: true,
        });
  const groups = options.groups === undefined ? undefined : checkGroups(owner, options.groups);
  if (groups && target === undefined)
    throw new Error(`${owner}: option 'groups' only applies with 'winRateTarget'`);
  let scratch = new Float64Array(0);
  return {
    freshUpdates: true,
    init(params) {
      return initSophiaState(params.length);
    },
    update(grads, state, _params, extra) {
      const { count, m0, h0, prevStats } = readSophiaState(owner, state, grads);
      const bs = extra?.batchSize;
      if (typeof bs !== 'number' || !Number.isFinite(bs) || bs <= 0) {
        throw new Error(
          `${owner}: extra.batchSize (number of predictions in the minibatch) must be a positive number, got ${String(bs)}`,
        );
      }
      const hHat = extra?.hessianDiag;
      const { m, h } = sophiaMoments(owner, b1, b2, grads, m0, h0, hHat, extra);
      const d = grads.length;
      const counters = nextHessianCounters(prevStats, hHat !== undefined);
      const hessianUpdates = counters[0];
      // Before the first estimate h = 0 either way (each step is lr·sign(m)).
      const correction = biasCorrection && hessianUpdates > 0 ? 1 / (1 - Math.pow(b2, hessianUpdates)) : 1;
      const out = takeArray(d, extra);
      let unclipped = 0;
      // As the official clamp(None, 1): only an upper clip, so a negative h (impossible for GNB) is not
      // clamped at 0 here either; feed Sophia-G non-negative estimates. Per coordinate:
      // sign(m)·min(|m|/(scale·h + eps), 1), counting ratios below 1 (a wasm SIMD kernel, bit-identical).
      const clipRange = (a: number, b: number, groupRho: number) => {
        const scale = groupRho * bs * correction;
        const [o, mr, hr] = [out.subarray(a, b), m.subarray(a, b), h.subarray(a, b)];
        unclipped += sophiaGClipInto(o, mr, hr, scale, SOPHIA_G_EPS);
      };
      if (target === undefined || hessianUpdates === 0) {
        clipRange(0, d, rho);
      } else {
        const ranges = groups ?? [[0, d] as const];
        let covered = 0;
        for (const [a, b] of ranges) {
          if (b > d) throw new Error(`${owner}: group [${a}, ${b}) is past the ${d} parameters`);
          clipRange(covered, a, rho);
          if (scratch.length < b - a) scratch = new Float64Array(b - a);
          // The Newton-step magnitudes |m|/(bs·h) of the group; ρ_g is their target quantile.
          for (let i = a; i < b; i++)
            scratch[i - a] = Math.abs(m[i]) / (bs * correction * h[i] + SOPHIA_G_EPS);
          clipRange(a, b, quantileSelect(scratch, b - a, target));
          covered = b;
        }
        clipRange(covered, d, rho);
      }
      const stats = sophiaStats(prevStats, m, h0, h, unclipped, counters);
      return [out, { count: count + 1, m, h, stats }];
    },
  };
}

export interface SophiaGOptions extends ScaleBySophiaGOptions, DecoupledDecayOptions {}

/** Official defaults: lr 1e-4, β (0.965, 0.99), ρ 0.04, weight decay 0.1. */
export function sophiaG(options: SophiaGOptions = {}): GradientTransformation<ChainState> {
  // θ − lr·(u + wd·θ) = θ·(1 − lr·wd) − lr·u: the official "decay first" step, written as an update.
  return decoupledDecayAlias(
    'sophiaG',
    options,
    ['b1', 'b2', 'rho', 'biasCorrection', 'winRateTarget', 'groups'],
    { lr: 1e-4, weightDecay: 0.1 },
    scaleBySophiaG,
  );
}
