/**
 * Hutchinson's trace estimator with PyHessian's stopping rule: tr(H) = E[zᵀHz] for Rademacher z.
 * Probe i is rng(seed, 'trace', i). After each probe the running mean m_i is compared with m_{i−1};
 * the loop stops when |m_i − m_{i−1}| / (|m_{i−1}| + 1e-6) < tol (the denominator uses |·| because the
 * trace of a non-convex loss can be negative), or after maxIter probes.
 *
 * Per-group traces come from the same HVPs: E[Σ_{j∈g} z_j (Hz)_j] = Σ_{j∈g} H_jj = tr(H_gg), so one HVP
 * per probe gives every layer's trace, and the group estimates sum to the total when the groups cover
 * all parameters.
 */
import { rng } from '../random/counter-rng.js';
import { type ParamGroup, checkGroups } from './groups.js';
import type { HvpFn } from './operator.js';
import { applyChecked, checkCount, dot } from './linalg.js';
import { type Stepwise, finish } from './stepwise.js';

export interface TraceOptions {
  /** Relative-change tolerance of the running mean (default 1e-3, PyHessian). 0 runs all maxIter probes. */
  tol?: number;
  /** Maximum number of probes (default 100). */
  maxIter?: number;
  seed?: number;
  /** Groups for per-layer traces (e.g. layoutGroups(model.layout)). */
  groups?: readonly ParamGroup[];
}

export interface GroupTrace {
  name: string;
  trace: number;
  params: number;
}

export interface TraceResult {
  /** Mean of zᵀHz over the probes used. */
  trace: number;
  /** Number of probes (= HVPs) used. */
  iterations: number;
  /** Running mean after each probe. */
  history: number[];
  /** Per-group trace estimates (empty without `groups`). */
  perLayer: GroupTrace[];
  converged: boolean;
}

export function hutchinsonTrace(hvp: HvpFn, n: number, options: TraceOptions = {}): TraceResult {
  return finish(hutchinsonTraceSteps(hvp, n, options));
}

/** hutchinsonTrace one probe at a time (see stepwise.ts); stopped early, the mean of the probes so far. */
export function* hutchinsonTraceSteps(
  hvp: HvpFn,
  n: number,
  options: TraceOptions = {},
): Stepwise<TraceResult> {
  checkCount('hutchinsonTrace', n);
  const tol = options.tol ?? 1e-3;
  const maxIter = options.maxIter ?? 100;
  const seed = options.seed ?? 0;
  if (!(tol >= 0)) throw new RangeError(`hutchinsonTrace: tol must be >= 0, got ${tol}`);
  if (!Number.isInteger(maxIter) || maxIter < 1)
    throw new RangeError(`hutchinsonTrace: maxIter must be a positive integer, got ${maxIter}`);
  const groups = options.groups ?? [];
  checkGroups('hutchinsonTrace', groups, n);
  const groupSums = new Float64Array(groups.length);
  const history: number[] = [];
  let sum = 0;
  let prev = 0;
  let converged = false;
  let it = 0;
  const z = new Float64Array(n);
  const result = (): TraceResult => ({
    trace: sum / it,
    iterations: it,
    history: [...history],
    perLayer: groups.map((g, gi) => ({ name: g.name, trace: groupSums[gi] / it, params: g.params })),
    converged,
  });
  while (it < maxIter) {
    rng(seed, 'trace', it).fillRademacher(z);
    const hz = applyChecked(hvp, z, 'hutchinsonTrace');
    sum += dot(z, hz);
    groups.forEach((g, gi) => {
      let s = 0;
      for (const [a, b] of g.ranges) for (let i = a; i < b; i++) s += z[i] * hz[i];
      groupSums[gi] += s;
    });
    it++;
    const mean = sum / it;
    history.push(mean);
    // PyHessian compares against the previous mean, which starts at 0: the first probe never stops.
    if (it > 1 && Math.abs(mean - prev) / (Math.abs(prev) + 1e-6) < tol) {
      converged = true;
      break;
    }
    prev = mean;
    if (it < maxIter) yield { done: it, total: maxIter, partial: result };
  }
  return result();
}
