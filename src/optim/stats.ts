/**
 * Telemetry of the Sophia family, kept in state as a pure value (no side channel), so the coordinator can
 * log it and a checkpoint carries it.
 */

export interface CurvatureStats {
  /**
   * Fraction of the live coordinates whose update was NOT clipped this step (healthy range 0.1–0.5).
   * Live = a non-zero gradient EMA m, i.e. some gradient so far was non-zero there: a coordinate that
   * never had a gradient (an MNIST pixel that is 0 in every batch) has m = 0, a step of 0 and no
   * curvature, and counting it as "unclipped" would report sign momentum as a healthy Sophia.
   */
  winRate: number;
  /** Mean, max and min of the curvature EMA h used by this step's update. */
  hMean: number;
  hMax: number;
  hMin: number;
  /** Curvature estimates folded in so far. */
  hessianUpdates: number;
  /** Steps since the last estimate arrived (0: this step), −1 before the first. */
  stepsSinceHessian: number;
}

export function initialStats(): CurvatureStats {
  return { winRate: 0, hMean: 0, hMax: 0, hMin: 0, hessianUpdates: 0, stepsSinceHessian: -1 };
}

/** Mean/max/min with float64 accumulation (an empty vector gives zeros). */
export function vectorStats(v: Float32Array): { mean: number; max: number; min: number } {
  if (v.length === 0) return { mean: 0, max: 0, min: 0 };
  let sum = 0;
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    sum += x;
    if (x > max) max = x;
    if (x < min) min = x;
  }
  return { mean: sum / v.length, max, min };
}

/** The advance of the hessian counters for one step. */
export function nextHessianCounters(prev: CurvatureStats, arrived: boolean): [number, number] {
  if (arrived) return [prev.hessianUpdates + 1, 0];
  return [prev.hessianUpdates, prev.stepsSinceHessian < 0 ? -1 : prev.stepsSinceHessian + 1];
}

export function checkStats(owner: string, value: unknown): CurvatureStats {
  const s = value as CurvatureStats | undefined;
  if (
    !s ||
    typeof s !== 'object' ||
    typeof s.hessianUpdates !== 'number' ||
    typeof s.stepsSinceHessian !== 'number'
  ) {
    throw new Error(`${owner}: state.stats is missing or malformed (was this state produced by ${owner}?)`);
  }
  return s;
}

/**
 * Finds the curvature stats anywhere in an optimizer state (inside a chain or an injectHyperparams
 * wrapper), or undefined when the optimizer keeps none.
 */
export function findStats(state: unknown): CurvatureStats | undefined {
  if (state === null || typeof state !== 'object' || ArrayBuffer.isView(state)) return undefined;
  if (Array.isArray(state)) {
    for (const item of state) {
      const found = findStats(item);
      if (found) return found;
    }
    return undefined;
  }
  const record = state as Record<string, unknown>;
  const stats = record.stats as CurvatureStats | undefined;
  if (stats && typeof stats === 'object' && typeof stats.winRate === 'number') return stats;
  for (const key of Object.keys(record)) {
    const found = findStats(record[key]);
    if (found) return found;
  }
  return undefined;
}
