/**
 * Whether a curvature schedule suits an optimizer, as its catalog entry says: one rule for the run config
 * (src/cli/config.ts) and the daemon's (src/daemon/config.ts).
 */
import { describe } from '../config/zod-errors.js';
import type { CurvatureConfig } from '../step/curvature-schedule.js';
import type { CurvatureProblem, OptimizerEntry } from './entry.js';

/** Problems as [key under `curvature` (null: the section itself), message]; empty when it suits. */
export function curvatureProblems(
  entry: OptimizerEntry,
  cv: CurvatureConfig | undefined,
): CurvatureProblem[] {
  const needs = entry.curvature;
  const name = entry.name;
  if (cv === undefined) {
    if (!needs.required) return [];
    const eg = needs.example ? `, e.g. ${JSON.stringify(needs.example).replace(/([:,])/g, '$1 ')}` : '';
    return [[null, `${name} needs a curvature schedule${eg}`]];
  }
  if (needs.estimators.length === 0)
    return [[null, `${name} uses no curvature estimates: remove the curvature section`]];
  const problems: CurvatureProblem[] = [];
  if (!needs.estimators.includes(cv.estimator)) {
    const want = needs.estimators.map((e) => `"${e}"`).join(' or ');
    problems.push(['estimator', `${name} needs ${want} curvature, got ${describe(cv.estimator)}`]);
  }
  return [...problems, ...(needs.check?.(cv) ?? [])];
}
