/**
 * The layout table that maps a flat parameter vector to named tensors, as stored in checkpoints and used
 * to export safetensors. Structural (not imported from src/nn) so the file formats do not depend on the
 * model code: anything with `{name, shape, offset}` entries can be saved.
 */

export interface ParamLayoutEntry {
  /** PyTorch `state_dict`-style key, e.g. `'0.weight'` or `'h.1.attn.c_attn.bias'`. */
  name: string;
  shape: number[];
  /** First element of this tensor in the flat vector. */
  offset: number;
  /** Free-form group tags (e.g. `'no_decay'`). */
  tags: string[];
}

export function layoutEntrySize(entry: { shape: readonly number[] }): number {
  let n = 1;
  for (const d of entry.shape) n *= d;
  return n;
}

/**
 * Returns null when `layout` is a valid table over a vector of `length` elements — unique names,
 * non-negative integer shapes, every entry inside the vector — else a sentence saying what is wrong.
 * Entries may leave gaps (padding) but must not overlap.
 */
export function describeLayoutProblem(layout: unknown, length: number): string | null {
  if (!Array.isArray(layout)) return `layout must be an array, got ${typeof layout}`;
  const names = new Set<string>();
  const spans: Array<[number, number, string]> = [];
  for (let i = 0; i < layout.length; i++) {
    const e = layout[i] as Partial<ParamLayoutEntry> | null;
    if (e === null || typeof e !== 'object') return `layout[${i}] is not an object`;
    if (typeof e.name !== 'string' || e.name === '') return `layout[${i}].name must be a non-empty string`;
    if (names.has(e.name)) return `layout has the name '${e.name}' twice`;
    names.add(e.name);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      return `layout '${e.name}': shape must be an array of non-negative integers`;
    }
    if (!Number.isSafeInteger(e.offset) || e.offset! < 0)
      return `layout '${e.name}': offset must be a non-negative integer`;
    if (!Array.isArray(e.tags) || !e.tags.every((t) => typeof t === 'string')) {
      return `layout '${e.name}': tags must be an array of strings`;
    }
    const end = e.offset! + layoutEntrySize({ shape: e.shape });
    if (end > length)
      return `layout '${e.name}' spans [${e.offset}, ${end}) but the parameter vector has ${length} elements`;
    spans.push([e.offset!, end, e.name]);
  }
  // Sweep by start, remembering the furthest end so far (a long entry can cover several later ones).
  spans.sort((a, b) => a[0] - b[0]);
  let reach = 0;
  let reachName = '';
  for (const [start, end, name] of spans) {
    if (end === start) continue; // empty tensors occupy nothing
    if (start < reach) return `layout entries '${reachName}' and '${name}' overlap`;
    reach = end;
    reachName = name;
  }
  return null;
}
