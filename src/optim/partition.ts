/**
 * partition (optax.multi_transform): one transformation per group of parameter tensors. A labelling of the
 * layout's tensors (e.g. `(slot) => slot.role === 'matrix' ? 'muon' : 'adam'`) picks each tensor's group;
 * each group's transformation runs on the concatenation of its tensors' coordinates (in flat-vector order)
 * and its updates are scattered back into one flat update. Members get `init(subParams, subLayout)` with
 * offsets rebased to their sub-vector, so a matrix-aware member sees its matrices where they sit in it.
 *
 * Which coordinates form each group is kept in the state (plain number arrays), not in the closure, so a
 * state restored from a checkpoint drives a freshly built partition without calling `init` again.
 */
import { takeArray } from './array-pool.js';
import type { TensorLayout, TensorSlot } from './tensor-layout.js';
import { requireTensorLayout } from './tensor-layout.js';
import type { GradientTransformation, UpdateExtra } from './transform.js';
import { checkLength, checkStateObject } from './validate.js';

export interface PartitionGroupState {
  /** The group's coordinates as half-open runs [start₀, end₀, start₁, end₁, …] of the flat vector. */
  spans: number[];
  /** The member transformation's state. */
  inner: unknown;
}

/** One entry per label, in the order the transformations were given. */
export type PartitionState = Record<string, PartitionGroupState>;

const OWNER = 'partition';

/** Total number of coordinates in `spans`. */
function spanLength(spans: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < spans.length; i += 2) n += spans[i + 1] - spans[i];
  return n;
}

/** The coordinates of `spans` gathered from `v`: a view when they are one run, else a copy. */
function gather(v: Float32Array, spans: readonly number[], n: number, extra?: UpdateExtra): Float32Array {
  if (spans.length === 2) return v.subarray(spans[0], spans[1]);
  const out = takeArray(n, extra);
  let at = 0;
  for (let i = 0; i < spans.length; i += 2) {
    out.set(v.subarray(spans[i], spans[i + 1]), at);
    at += spans[i + 1] - spans[i];
  }
  return out;
}

function checkSpans(label: string, spans: unknown): number[] {
  const ok =
    Array.isArray(spans) &&
    spans.length % 2 === 0 &&
    spans.every((v, i) => Number.isSafeInteger(v) && v >= (i > 0 ? (spans[i - 1] as number) : 0));
  if (!ok)
    throw new Error(
      `${OWNER}: state.${label}.spans must be increasing [start, end) runs of coordinates ` +
        `(was this state produced by this partition?)`,
    );
  return spans as number[];
}

/**
 * @param transforms one transformation per label.
 * @param label the label of each tensor of the layout given to `init`; every coordinate of the parameter
 *   vector must lie in some tensor, and every label must be a key of `transforms`.
 */
export function partition(
  transforms: Record<string, GradientTransformation>,
  label: (slot: TensorSlot) => string,
): GradientTransformation<PartitionState> {
  if (transforms === null || typeof transforms !== 'object')
    throw new Error(`${OWNER}: transforms must be an object of transformations keyed by label`);
  const labels = Object.keys(transforms);
  if (labels.length === 0) throw new Error(`${OWNER}: needs at least one labelled transformation`);
  for (const l of labels) {
    const t = transforms[l];
    if (!t || typeof t.init !== 'function' || typeof t.update !== 'function')
      throw new Error(`${OWNER}: transforms.${l} is not a GradientTransformation`);
  }
  if (typeof label !== 'function') throw new Error(`${OWNER}: label must be a function (slot) => label`);

  return {
    freshUpdates: true,
    init(params, layout) {
      const slots = [...requireTensorLayout(OWNER, layout, params.length)].sort(
        (a, b) => a.offset - b.offset,
      );
      let covered = 0;
      for (const s of slots) covered += s.size;
      if (covered !== params.length)
        throw new Error(
          `${OWNER}: the layout's tensors cover ${covered} of the ${params.length} coordinates; ` +
            `every coordinate must belong to a tensor so that some transformation updates it`,
        );
      const spans: Record<string, number[]> = {};
      const subLayouts: Record<string, TensorSlot[]> = {};
      for (const l of labels) [spans[l], subLayouts[l]] = [[], []];
      for (const s of slots) {
        const l = label(s);
        if (!Object.prototype.hasOwnProperty.call(transforms, l))
          throw new Error(
            `${OWNER}: tensor '${s.name}' is labelled ${JSON.stringify(l)}, which has no transformation ` +
              `(labels: ${labels.join(', ')})`,
          );
        const runs = spans[l];
        const at = spanLength(runs);
        subLayouts[l].push({ ...s, shape: [...s.shape], offset: at });
        if (s.size === 0) continue;
        // Tensors next to each other in the flat vector make one run, so fewer copies.
        if (runs.length > 0 && runs[runs.length - 1] === s.offset) runs[runs.length - 1] += s.size;
        else runs.push(s.offset, s.offset + s.size);
      }
      const state: PartitionState = {};
      for (const l of labels) {
        const sub = gather(params, spans[l], spanLength(spans[l])).slice();
        state[l] = { spans: spans[l], inner: transforms[l].init(sub, subLayouts[l] as TensorLayout) };
      }
      return state;
    },
    update(grads, state, params, extra) {
      const s = checkStateObject(OWNER, state);
      const groups = labels.map((l) => {
        const g = checkStateObject(`${OWNER}: state.${l}`, s[l]);
        return { label: l, spans: checkSpans(l, g.spans), inner: g.inner };
      });
      const total = groups.reduce((n, g) => n + spanLength(g.spans), 0);
      checkLength(OWNER, 'gradient', grads, total, 'layout');
      for (const g of groups)
        if (g.spans.length > 0 && g.spans[g.spans.length - 1] > grads.length)
          throw new Error(`${OWNER}: state.${g.label}.spans reach past the ${grads.length} coordinates`);
      if (params !== undefined) checkLength(OWNER, 'params', params, grads.length, 'gradient');
      // Every coordinate belongs to one group, so the groups' updates write every element of `out`.
      const out = takeArray(grads.length, extra);
      const next: PartitionState = {};
      for (const { label: l, spans, inner } of groups) {
        const n = spanLength(spans);
        const t = transforms[l];
        const subGrads = gather(grads, spans, n, extra);
        const subParams = params && gather(params, spans, n);
        const subExtra: UpdateExtra | undefined = extra && { ...extra };
        // Per-coordinate side inputs follow their coordinates into the group. A hessianPair is passed on
        // unsplit: Hv restricted to a group is not the group's Hessian block times v's restriction.
        for (const key of ['hessianDiag', 'curvatureGradient'] as const) {
          const side = subExtra?.[key];
          if (side === undefined) continue;
          checkLength(OWNER, key, side, grads.length, 'gradient');
          subExtra![key] = gather(side, spans, n);
        }
        const [u, innerNext] = t.update(subGrads, inner, subParams, subExtra);
        checkLength(OWNER, `transforms.${l} updates`, u, n, 'group');
        let at = 0;
        for (let i = 0; i < spans.length; i += 2) {
          out.set(u.subarray(at, at + spans[i + 1] - spans[i]), spans[i]);
          at += spans[i + 1] - spans[i];
        }
        next[l] = { spans, inner: innerNext };
        // What only this call holds goes back to the pool: the gathered gradient (no transformation keeps
        // its gradient) and a member's fresh updates, now copied into `out`.
        if (extra?.arrays) {
          if (subGrads !== grads && subGrads.buffer !== grads.buffer) extra.arrays.give(subGrads);
          if (t.freshUpdates) extra.arrays.give(u);
        }
      }
      return [out, next];
    },
  };
}
