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
import { chain, type ChainState } from './chain.js';
import { checkGroups, type CoordinateGroups, quantileSelect } from './group-quantile.js';
import { scaleByLearningRate } from './learning-rate.js';
import { checkStats, initialStats, nextHessianCounters, vectorStats, type CurvatureStats } from './stats.js';
import type { CoordinateMask, GradientTransformation, ScalarOrSchedule } from './transform.js';
import {
  checkBoolean,
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

export interface SophiaState {
  count: number;
  /** Gradient EMA (exp_avg). */
  m: Float32Array;
  /** Curvature EMA (hessian). */
  h: Float32Array;
  stats: CurvatureStats;
}

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
      const d = params.length;
      return { count: 0, m: new Float32Array(d), h: new Float32Array(d), stats: initialStats() };
    },
    update(grads, state, _params, extra) {
      const s = checkStateObject(owner, state);
      const count = checkStateCount(owner, s.count);
      const m0 = checkStateVector(owner, 'm', s.m);
      const h0 = checkStateVector(owner, 'h', s.h, m0.length);
      const prevStats = checkStats(owner, s.stats);
      checkLength(owner, 'gradient', grads, m0.length);
      const bs = extra?.batchSize;
      if (typeof bs !== 'number' || !Number.isFinite(bs) || bs <= 0) {
        throw new Error(
          `${owner}: extra.batchSize (number of predictions in the minibatch) must be a positive number, got ${String(bs)}`,
        );
      }
      const hHat = extra?.hessianDiag;
      if (hHat !== undefined) checkLength(owner, 'extra.hessianDiag', hHat, m0.length);

      const d = grads.length;
      const m = new Float32Array(d);
      for (let i = 0; i < d; i++) m[i] = b1 * m0[i] + (1 - b1) * grads[i];
      let h = h0; // unchanged (and shared, never mutated) on steps without an estimate
      if (hHat !== undefined) {
        h = new Float32Array(d);
        for (let i = 0; i < d; i++) h[i] = b2 * h0[i] + (1 - b2) * hHat[i];
      }
      const [hessianUpdates, stepsSinceHessian] = nextHessianCounters(prevStats, hHat !== undefined);
      // Before the first estimate h = 0 either way (each step is lr·sign(m)).
      const correction = biasCorrection && hessianUpdates > 0 ? 1 / (1 - Math.pow(b2, hessianUpdates)) : 1;
      const out = new Float32Array(d);
      let unclipped = 0;
      // As the official clamp(None, 1): only an upper clip, so a negative h (impossible for GNB) is not
      // clamped at 0 here either; feed Sophia-G non-negative estimates.
      const clipRange = (a: number, b: number, groupRho: number) => {
        const scale = groupRho * bs * correction;
        for (let i = a; i < b; i++) {
          const mi = m[i];
          const ratio = Math.abs(mi) / (scale * h[i] + SOPHIA_G_EPS);
          if (ratio < 1) unclipped++;
          out[i] = Math.sign(mi) * Math.min(ratio, 1);
        }
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
      // h only changes when an estimate arrives; in between its mean/max/min are last step's.
      const hs =
        h === h0 ? { mean: prevStats.hMean, max: prevStats.hMax, min: prevStats.hMin } : vectorStats(h);
      const stats: CurvatureStats = {
        winRate: d === 0 ? 0 : unclipped / d,
        hMean: hs.mean,
        hMax: hs.max,
        hMin: hs.min,
        hessianUpdates,
        stepsSinceHessian,
      };
      return [out, { count: count + 1, m, h, stats }];
    },
  };
}

export interface SophiaGOptions extends ScaleBySophiaGOptions {
  lr?: ScalarOrSchedule;
  weightDecay?: number;
  mask?: CoordinateMask;
}

/** Official defaults: lr 1e-4, β (0.965, 0.99), ρ 0.04, weight decay 0.1. */
export function sophiaG(options: SophiaGOptions = {}): GradientTransformation<ChainState> {
  const owner = 'sophiaG';
  checkKnownOptions(owner, options, [
    'lr',
    'b1',
    'b2',
    'rho',
    'biasCorrection',
    'winRateTarget',
    'groups',
    'weightDecay',
    'mask',
  ]);
  const lr = checkScalarOrSchedule(owner, 'lr', options.lr ?? 1e-4);
  const wd = checkNumber(owner, 'weightDecay', options.weightDecay ?? 0.1, { min: 0 });
  const mask = checkMask(owner, 'mask', options.mask);
  // θ − lr·(u + wd·θ) = θ·(1 − lr·wd) − lr·u: the official "decay first" step, written as an update.
  return chain(
    scaleBySophiaG({
      b1: options.b1,
      b2: options.b2,
      rho: options.rho,
      biasCorrection: options.biasCorrection,
      winRateTarget: options.winRateTarget,
      groups: options.groups,
    }),
    addDecayedWeights(wd, mask),
    scaleByLearningRate(lr),
  );
}
