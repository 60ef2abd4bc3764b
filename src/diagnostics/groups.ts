/**
 * Parameter groups for per-layer diagnostics: each group is a set of index ranges of the flat vector.
 * From a ParamLayout, entries group by their `layer:<name>` tag (so a layer's weight and bias form one
 * group), falling back to the entry's own name when it carries no layer tag.
 */
import type { ParamLayout } from '../nn/param-layout.js';

export interface ParamGroup {
  readonly name: string;
  /** Half-open index ranges [start, end) of the flat parameter vector. */
  readonly ranges: readonly (readonly [number, number])[];
  /** Number of parameters in the group. */
  readonly params: number;
}

/** Groups of a layout, in first-appearance order: by `layer:` tag (default) or one per entry. */
export function layoutGroups(layout: ParamLayout, by: 'layer' | 'entry' = 'layer'): ParamGroup[] {
  const order: string[] = [];
  const ranges = new Map<string, [number, number][]>();
  for (const e of layout.entries) {
    const tag = by === 'layer' ? e.tags.find((t) => t.startsWith('layer:')) : undefined;
    const name = tag ? tag.slice('layer:'.length) : e.name;
    let r = ranges.get(name);
    if (!r) {
      r = [];
      ranges.set(name, r);
      order.push(name);
    }
    r.push([e.offset, e.offset + e.size]);
  }
  return order.map((name) => {
    const r = ranges.get(name)!;
    return { name, ranges: r, params: r.reduce((s, [a, b]) => s + b - a, 0) };
  });
}

/** Checks that groups lie inside [0, n) and do not overlap; throws a RangeError naming the problem. */
export function checkGroups(who: string, groups: readonly ParamGroup[], n: number): void {
  const owner = new Int32Array(n).fill(-1);
  groups.forEach((g, gi) => {
    for (const [a, b] of g.ranges) {
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b > n || a > b)
        throw new RangeError(`${who}: group ${g.name} has range [${a}, ${b}) outside [0, ${n})`);
      for (let i = a; i < b; i++) {
        if (owner[i] !== -1)
          throw new RangeError(`${who}: parameter ${i} is in both ${groups[owner[i]].name} and ${g.name}`);
        owner[i] = gi;
      }
    }
  });
}
