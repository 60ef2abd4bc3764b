/**
 * updates ← updates + wd·params on masked coordinates. Placed before scaleByLearningRate this gives the
 * decoupled decay of AdamW/Lion/Sophia (θ·(1 − lr·wd)); placed first it gives SGD's L2 term g + wd·θ.
 */
import { addScaledInto } from '../kernels/passes.js';
import type { CoordinateMask, GradientTransformation } from './transform.js';
import { checkLength, checkMask, checkNumber, requireParams } from './validate.js';
import type { EmptyState } from './clip.js';

/** Resolves a mask option against the current params (a function mask may depend on them). */
export function resolveMask(
  owner: string,
  mask: CoordinateMask | undefined,
  params: Float32Array,
): Uint8Array | null {
  if (mask === undefined) return null;
  const m = typeof mask === 'function' ? mask(params) : mask;
  if (!(m instanceof Uint8Array)) throw new Error(`${owner}: mask function must return a Uint8Array`);
  checkLength(owner, 'mask', m, params.length, 'params');
  return m;
}

export function addDecayedWeights(
  weightDecay: number,
  mask?: CoordinateMask,
): GradientTransformation<EmptyState> {
  const owner = 'addDecayedWeights';
  const wd = checkNumber(owner, 'weightDecay', weightDecay, { min: 0 });
  const maskOption = checkMask(owner, 'mask', mask);
  // u[i] + wd·θ[i] on the masked coordinates, written into `out` (which may be `grads` itself).
  const decayInto = (out: Float32Array, grads: Float32Array, params: Float32Array | undefined) => {
    // wd = 0 is the common "no decay" setting: skip it so params are not required and nothing is rounded.
    if (wd === 0) return;
    const p = requireParams(owner, params, grads.length);
    const m = resolveMask(owner, maskOption, p);
    if (m === null) return addScaledInto(out, grads, p, wd);
    for (let i = 0; i < out.length; i++) {
      if (m[i] !== 0) out[i] = grads[i] + wd * p[i];
    }
  };
  return {
    freshUpdates: true,
    init() {
      return {};
    },
    update(grads, state, params) {
      const out = new Float32Array(grads);
      decayInto(out, grads, params);
      return [out, state];
    },
    updateInPlace(updates, state, params) {
      decayInto(updates, updates, params);
      return state;
    },
  };
}
