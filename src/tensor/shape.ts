/** Shape arithmetic: sizes, strides, broadcasting and axis normalisation. */
import { stridesOf } from '../kernels/arrays.js';
import { ShapeError, describeShape } from './errors.js';

/** Sizes and strides live with the kernels, which compute over flat arrays without tensors. */
export { sizeOf, stridesOf } from '../kernels/arrays.js';

export type Shape = readonly number[];

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, `invalid shape ${describeShape(shape)}`);
  }
}

/** NumPy broadcasting of two shapes; throws naming both when they are incompatible. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        op,
        `shapes ${describeShape(a)} and ${describeShape(b)} cannot be broadcast together`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides that read an array of shape `from` as if it had shape `to` (broadcast dims get stride 0).
 * `from` must be broadcastable to `to`.
 */
export function broadcastStrides(from: Shape, to: Shape): number[] {
  const fs = stridesOf(from);
  const out = new Array<number>(to.length).fill(0);
  const off = to.length - from.length;
  for (let i = 0; i < from.length; i++) out[off + i] = from[i] === 1 && to[off + i] !== 1 ? 0 : fs[i];
  return out;
}

/** Normalises possibly negative axes against a rank and checks them; returns sorted unique axes. */
export function normalizeAxes(
  op: string,
  axes: number | readonly number[] | undefined,
  rank: number,
): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = new Set<number>();
  for (const a of list) {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new ShapeError(op, `axis ${a} is out of range for rank ${rank}`);
    }
    out.add(a < 0 ? a + rank : a);
  }
  return [...out].sort((x, y) => x - y);
}

/** The shape after reducing `axes` with keepdims (reduced axes become 1). */
export function keptShape(shape: Shape, axes: readonly number[]): number[] {
  const out = [...shape];
  for (const a of axes) out[a] = 1;
  return out;
}
