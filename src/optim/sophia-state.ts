/** The state Sophia-G and Sophia-H share, and the steps on it they take alike, written once for both. */
import { emaInto } from '../kernels/passes.js';
import { takeArray } from './array-pool.js';
import { checkStats, initialStats, vectorStats, type CurvatureStats } from './stats.js';
import type { UpdateExtra } from './transform.js';
import { checkLength, checkStateCount, checkStateObject, checkStateVector } from './validate.js';

export interface SophiaState {
  count: number;
  /** Gradient EMA (exp_avg). */
  m: Float32Array;
  /** Curvature EMA (hessian). */
  h: Float32Array;
  stats: CurvatureStats;
}

export function initSophiaState(d: number): SophiaState {
  return { count: 0, m: new Float32Array(d), h: new Float32Array(d), stats: initialStats() };
}

/** Checks a Sophia state and that `grads` matches it; returns its parts (count as stored). */
export function readSophiaState(
  owner: string,
  state: unknown,
  grads: Float32Array,
): { count: number; m0: Float32Array; h0: Float32Array; prevStats: CurvatureStats } {
  const s = checkStateObject(owner, state);
  const count = checkStateCount(owner, s.count);
  const m0 = checkStateVector(owner, 'm', s.m);
  const h0 = checkStateVector(owner, 'h', s.h, m0.length);
  const prevStats = checkStats(owner, s.stats);
  checkLength(owner, 'gradient', grads, m0.length);
  return { count, m0, h0, prevStats };
}

/**
 * m ← β1·m + (1−β1)·g, and h ← β2·h + (1−β2)·ĥ when an estimate ĥ arrives (checked against m first);
 * without one h is h0 itself (shared, never mutated).
 */
export function sophiaMoments(
  owner: string,
  b1: number,
  b2: number,
  grads: Float32Array,
  m0: Float32Array,
  h0: Float32Array,
  hHat: Float32Array | undefined,
  extra?: UpdateExtra,
): { m: Float32Array; h: Float32Array } {
  if (hHat !== undefined) checkLength(owner, 'extra.hessianDiag', hHat, m0.length);
  const d = grads.length;
  const m = takeArray(d, extra);
  emaInto(m, m0, grads, b1, 1 - b1);
  let h = h0;
  if (hHat !== undefined) {
    h = takeArray(d, extra);
    emaInto(h, h0, hHat, b2, 1 - b2);
  }
  return { m, h };
}

/**
 * This step's stats: `unclipped` of the h.length coordinates won, `counters` from nextHessianCounters.
 * The win-rate counts only live coordinates (m ≠ 0): a coordinate with m = 0 has ratio 0, which the clip
 * kernels count as unclipped, so it is taken out of both counts.
 */
export function sophiaStats(
  prevStats: CurvatureStats,
  m: Float32Array,
  h0: Float32Array,
  h: Float32Array,
  unclipped: number,
  counters: [number, number],
): CurvatureStats {
  let dead = 0;
  for (let i = 0; i < m.length; i++) if (m[i] === 0) dead++;
  const live = h.length - dead;
  // h only changes when an estimate arrives; in between its mean/max/min are last step's.
  const hs = h === h0 ? { mean: prevStats.hMean, max: prevStats.hMax, min: prevStats.hMin } : vectorStats(h);
  const [hessianUpdates, stepsSinceHessian] = counters;
  return {
    winRate: live === 0 ? 0 : (unclipped - dead) / live,
    hMean: hs.mean,
    hMax: hs.max,
    hMin: hs.min,
    hessianUpdates,
    stepsSinceHessian,
  };
}
