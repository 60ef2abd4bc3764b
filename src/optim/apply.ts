/** Applying updates: params + updates (updates already carry the sign and the learning rate). */
import { checkLength } from './validate.js';

/** Returns a new Float32Array params + updates; neither input is touched. */
export function applyUpdates(params: Float32Array, updates: Float32Array): Float32Array {
  checkLength('applyUpdates', 'updates', updates, params.length, 'params');
  const out = new Float32Array(params.length);
  for (let i = 0; i < params.length; i++) out[i] = params[i] + updates[i];
  return out;
}

/**
 * Adds updates into params in place and returns params. For the coordinator, which owns the shared
 * parameter buffer workers read from; the arithmetic is identical to applyUpdates.
 */
export function applyUpdatesInPlace(params: Float32Array, updates: Float32Array): Float32Array {
  checkLength('applyUpdatesInPlace', 'updates', updates, params.length, 'params');
  for (let i = 0; i < params.length; i++) params[i] = params[i] + updates[i];
  return params;
}
