/** Heavy-ball / Nesterov momentum (optax.trace; equals torch.optim.SGD with dampening 0). */
import { takeArray } from './array-pool.js';
import type { GradientTransformation } from './transform.js';
import { checkBoolean, checkLength, checkNumber, checkStateObject, checkStateVector } from './validate.js';

export interface TraceState {
  trace: Float32Array;
}

export interface TraceOptions {
  decay: number;
  nesterov?: boolean;
}

/** t ← g + μ·t; output t, or g + μ·t with Nesterov. With μ = 0 this is the identity. */
export function trace(options: TraceOptions): GradientTransformation<TraceState> {
  const owner = 'trace';
  const mu = checkNumber(owner, 'decay', options.decay, { min: 0, max: 1, maxExclusive: true });
  const nesterov = checkBoolean(owner, 'nesterov', options.nesterov ?? false);
  return {
    freshUpdates: true,
    init(params) {
      return { trace: new Float32Array(params.length) };
    },
    update(grads, state, _params, extra) {
      const s = checkStateObject(owner, state);
      const prev = checkStateVector(owner, 'trace', s.trace);
      checkLength(owner, 'gradient', grads, prev.length);
      const next = takeArray(grads.length, extra);
      const out = takeArray(grads.length, extra);
      for (let i = 0; i < grads.length; i++) {
        next[i] = grads[i] + mu * prev[i];
        out[i] = nesterov ? grads[i] + mu * next[i] : next[i];
      }
      return [out, { trace: next }];
    },
  };
}
