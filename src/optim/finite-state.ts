/**
 * Whether an optimizer's new state holds only finite numbers: the step rule (Trainer, the pipeline's
 * applyStep) skips a step whose new state is not, as it skips a non-finite loss, gradient or update — an
 * infinity written into a second moment would otherwise persist (in checkpoints too) and freeze the
 * coordinates it touches.
 *
 * Generic over any state shape: plain objects and arrays are walked, every number and every float typed
 * array is checked. To stay cheap on every step, a part of the new state that is the very same object as
 * in the previous state (an array the step did not replace, e.g. a curvature estimate between refreshes)
 * is not checked again: optimizers are pure (`update` never mutates its input state), so an unchanged
 * reference holds unchanged, already checked values. Float32Arrays are checked by `allFinite` (the
 * WebAssembly SIMD kernel where available: Σ (v − v) is 0 exactly when every value is finite).
 */
import { allFinite } from '../kernels/passes.js';

function float64Finite(v: Float64Array): boolean {
  // v * 0 is 0 for every finite v and NaN for ±Infinity and NaN.
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * 0;
  return s === 0;
}

/** True when every number in `next` is finite (parts identical to `prev`'s are taken as checked). */
export function stateIsFinite(next: unknown, prev?: unknown, depth = 0): boolean {
  if (next === prev) return true;
  if (typeof next === 'number') return Number.isFinite(next);
  if (next === null || typeof next !== 'object' || depth > 32) return true;
  if (ArrayBuffer.isView(next)) {
    if (next instanceof Float32Array) return allFinite(next);
    if (next instanceof Float64Array) return float64Finite(next);
    return true; // integer arrays hold no NaN or infinity
  }
  const before = prev !== null && typeof prev === 'object' ? (prev as Record<string, unknown>) : undefined;
  if (Array.isArray(next)) {
    for (let i = 0; i < next.length; i++)
      if (!stateIsFinite(next[i], (before as unknown[] | undefined)?.[i], depth + 1)) return false;
    return true;
  }
  if (next instanceof Map) {
    const p = prev instanceof Map ? prev : undefined;
    for (const [k, v] of next) if (!stateIsFinite(v, p?.get(k), depth + 1)) return false;
    return true;
  }
  for (const k of Object.keys(next))
    if (!stateIsFinite((next as Record<string, unknown>)[k], before?.[k], depth + 1)) return false;
  return true;
}
