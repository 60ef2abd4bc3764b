/**
 * Per-group ρ for Sophia's clip, chosen so that each group's win-rate (the fraction of coordinates whose
 * update is not clipped) is a fixed target q.
 *
 * Sophia clips |m|/(ρ·bs·h) at 1. Written as N = |m|/(bs·h), the per-coordinate Newton step, a coordinate
 * is unclipped when N < ρ. One global ρ cannot suit every tensor of a network: N has the units of its
 * parameter, and on the char-GPT the curvature of the attention and MLP weights is ~1000× below the
 * embeddings', so the same ρ leaves the embeddings mostly unclipped and clips nearly every attention
 * weight (win-rates 0.25 against 0.01). Clipped coordinates move ±lr whatever their signal-to-noise
 * ratio, so noise-dominated weights random-walk at the full step. Setting ρ_g to the q-quantile of N over
 * group g makes the update lr·sign(m)·min(N/ρ_g, 1) invariant to each group's scale: the (1 − q) largest
 * Newton steps of the group take the full step lr and the rest a proportional fraction of it.
 */

/** Half-open coordinate ranges [start, end) of the flat parameter vector. */
export type CoordinateGroups = readonly (readonly [number, number])[];

/** Checks that groups are non-empty, in bounds, sorted and disjoint, with a message naming the problem. */
export function checkGroups(owner: string, groups: unknown, length?: number): CoordinateGroups {
  if (!Array.isArray(groups) || groups.length === 0)
    throw new Error(`${owner}: option 'groups' must be a non-empty array of [start, end) ranges`);
  let prevEnd = 0;
  groups.forEach((g: unknown, i) => {
    if (!Array.isArray(g) || g.length !== 2 || !g.every((x) => Number.isInteger(x)))
      throw new Error(
        `${owner}: groups[${i}] must be [start, end) with integer bounds, got ${JSON.stringify(g)}`,
      );
    const [a, b] = g as [number, number];
    if (a < prevEnd || b <= a)
      throw new Error(
        `${owner}: groups[${i}] = [${a}, ${b}) must be non-empty and start at or after the previous end ${prevEnd}`,
      );
    if (length !== undefined && b > length)
      throw new Error(`${owner}: groups[${i}] = [${a}, ${b}) is past the ${length} parameters`);
    prevEnd = b;
  });
  return groups as CoordinateGroups;
}

/**
 * The value v such that ⌊q·n⌋ of the n values are below it (ties aside): the element of rank ⌊q·n⌋ in
 * ascending order, found by quickselect in `scratch` (which it reorders). NaN are treated as +∞.
 */
export function quantileSelect(scratch: Float64Array, n: number, q: number): number {
  const k = Math.min(n - 1, Math.floor(q * n));
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    // Median of three as the pivot keeps sorted and constant inputs linear.
    const mid = (lo + hi) >>> 1;
    const a = scratch[lo];
    const b = scratch[mid];
    const c = scratch[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (scratch[i] < pivot) i++;
      while (scratch[j] > pivot) j--;
      if (i <= j) {
        const t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return scratch[k];
  }
  return scratch[k];
}
