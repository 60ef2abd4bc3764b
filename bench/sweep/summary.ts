/**
 * From run curves to the sweep's answers: each arm's best learning rate (lowest mean final loss over the
 * tuning seeds; a diverged run counts as worse than any finite loss), then, over the final seeds, the mean
 * final loss, the step and CPU time at which the mean validation curve over the seeds first reaches the
 * reference arm's best mean final loss, and Sophia's win-rate. Pure functions, so they are tested on their own.
 */

export interface CurvePoint {
  step: number;
  loss: number;
  cpuSeconds: number;
  winRate?: number;
}

export interface RunOutcome {
  arm: string;
  lr: number;
  seed: number;
  curve: CurvePoint[];
  /** Final validation loss, or null when the run diverged. */
  final: number | null;
  cpuSeconds: number;
}

/** Mean and sample standard deviation; null entries (diverged) make the mean null. */
export function meanOf(values: readonly (number | null)[]): { mean: number | null; sd: number | null } {
  if (values.length === 0 || values.some((v) => v === null)) return { mean: null, sd: null };
  const xs = values as number[];
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length < 2 ? null : Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
  return { mean, sd };
}

/** The learning rate with the lowest mean final loss; ties keep the smaller rate. Null if all diverged. */
export function bestLearningRate(runs: readonly RunOutcome[], arm: string): number | null {
  const byLr = new Map<number, (number | null)[]>();
  for (const r of runs) if (r.arm === arm) byLr.set(r.lr, [...(byLr.get(r.lr) ?? []), r.final]);
  let best: number | null = null;
  let bestLoss = Infinity;
  for (const [lr, finals] of [...byLr.entries()].sort((a, b) => a[0] - b[0])) {
    const { mean } = meanOf(finals);
    if (mean !== null && mean < bestLoss) {
      best = lr;
      bestLoss = mean;
    }
  }
  return best;
}

/**
 * The edge rule, the same for every arm: when an arm's best learning rate is the smallest or the largest
 * it has tried, its optimum may lie beyond the grid, so it gets the next rate in that direction, at the
 * ratio between the two outermost rates on that side (rounded to 3 significant digits). Null when the
 * best rate is inside the tried ones, when none converged, or when `extensions` already reached `max`.
 */
export function nextEdgeRate(
  runs: readonly RunOutcome[],
  arm: string,
  extensions: number,
  max: number,
): number | null {
  if (extensions >= max) return null;
  const best = bestLearningRate(runs, arm);
  const lrs = [...new Set(runs.filter((r) => r.arm === arm).map((r) => r.lr))].sort((a, b) => a - b);
  if (best === null || lrs.length < 2) return null;
  const round = (x: number) => Number(x.toPrecision(3));
  if (best === lrs[lrs.length - 1]) return round(best * (best / lrs[lrs.length - 2]));
  if (best === lrs[0]) return round(best * (best / lrs[1]));
  return null;
}

/**
 * Where a curve first reaches `target` (loss ≤ target), linearly interpolated between evaluations, as
 * { step, cpuSeconds }; null if it never does.
 */
export function firstReach(
  curve: readonly CurvePoint[],
  target: number,
): { step: number; cpuSeconds: number } | null {
  for (let i = 0; i < curve.length; i++) {
    const p = curve[i];
    if (p.loss > target) continue;
    if (i === 0) return { step: p.step, cpuSeconds: p.cpuSeconds };
    const q = curve[i - 1];
    const f = (q.loss - target) / (q.loss - p.loss);
    return {
      step: q.step + f * (p.step - q.step),
      cpuSeconds: q.cpuSeconds + f * (p.cpuSeconds - q.cpuSeconds),
    };
  }
  return null;
}

/**
 * The mean curve of runs evaluated at the same steps: loss and CPU seconds averaged over the runs at
 * each step all of them have (in run order, so the last point's loss is the mean final loss exactly as
 * `meanOf` computes it). Empty when there are no runs.
 */
export function meanCurve(runs: readonly RunOutcome[]): CurvePoint[] {
  if (runs.length === 0) return [];
  const at = runs.map((r) => new Map(r.curve.map((p) => [p.step, p])));
  return runs[0].curve
    .filter((p) => at.every((m) => m.has(p.step)))
    .map((p) => {
      const points = at.map((m) => m.get(p.step)!);
      return {
        step: p.step,
        loss: meanOf(points.map((q) => q.loss)).mean!,
        cpuSeconds: meanOf(points.map((q) => q.cpuSeconds)).mean!,
      };
    });
}

/** The curvature schedule of a run, as far as counting its probes goes (step/curvature-schedule.ts). */
export interface ProbeSchedule {
  every?: number;
  first?: number;
  probes?: number;
}

/**
 * Forward–backward-pass equivalents spent by the time a run has taken `steps` steps (possibly a fraction,
 * interpolated between evaluations): one per step, plus one per curvature probe launched before the step
 * reached (a GNB probe is one forward and backward pass on sampled labels; a Hutchinson probe or a
 * Hessian-vector pair is one HVP, counted as one pass as modded-nanogpt's track 3 counts them, though it
 * costs about two). Probes launch at steps first, first + every, … (default every 10, first = every).
 */
export function passesTo(steps: number, schedule?: ProbeSchedule): number {
  if (!schedule) return steps;
  const every = schedule.every ?? 10;
  const first = schedule.first ?? every;
  const probes = schedule.probes ?? 1;
  const launchedBefore = Math.ceil(steps);
  const launches = launchedBefore > first ? Math.floor((launchedBefore - 1 - first) / every) + 1 : 0;
  return steps + probes * launches;
}
