/** Applying updates: params + updates (updates already carry the sign and the learning rate). */
import { addInto } from '../kernels/passes.js';
import { checkLength } from './validate.js';

/** Returns a new Float32Array params + updates; neither input is touched. */
export function applyUpdates(params: Float32Array, updates: Float32Array): Float32Array {
  checkLength('applyUpdates', 'updates', updates, params.length, 'params');
  // A copy and the 'addInto' pass (f32(p + u) per element, WebAssembly SIMD where available): the
  // JavaScript loop's results, at a fraction of its time on large vectors.
  const out = params.slice();
  addInto(out, updates);
  return out;
}

/**
 * Adds updates into params in place and returns params. For the coordinator, which owns the shared
 * parameter buffer workers read from; the result is applyUpdates's bit for bit (WebAssembly SIMD
 * where available: the 'addInto' kernel of src/kernels/passes.ts).
 */
export function applyUpdatesInPlace(params: Float32Array, updates: Float32Array): Float32Array {
  checkLength('applyUpdatesInPlace', 'updates', updates, params.length, 'params');
  addInto(params, updates);
  return params;
}

/** dst[i] = f32(dst[i] + src[i]) for every i and returns dst (dst may be src); lengths must be equal. */
export function addVectorInto(dst: Float32Array, src: Float32Array): Float32Array {
  if (dst.length !== src.length) {
    throw new RangeError(`addVectorInto: src length ${src.length} does not match dst length ${dst.length}`);
  }
  addInto(dst, src);
  return dst;
}
