/** Composition: the output of one transformation is the input of the next, as optax.chain. */
import type { GradientTransformation } from './transform.js';

/** The state of a chain is the array of its members' states, in order. */
export type ChainState = unknown[];

/**
 * Whether member i receives an array the chain owns: one a previous member created fresh (and members
 * working in place since then kept). The caller's gradient is never owned, so it is never written.
 */
function ownedInputs(transforms: readonly GradientTransformation[]): boolean[] {
  const owned: boolean[] = [];
  let fresh = false;
  for (const t of transforms) {
    owned.push(fresh);
    const inPlace: boolean = fresh && t.updateInPlace !== undefined;
    fresh = inPlace || t.freshUpdates === true;
  }
  owned.push(fresh); // the chain's own output
  return owned;
}

export function chain(...transforms: GradientTransformation[]): GradientTransformation<ChainState> {
  if (transforms.length === 0) throw new Error('chain: needs at least one transformation');
  for (let i = 0; i < transforms.length; i++) {
    const t = transforms[i];
    if (!t || typeof t.init !== 'function' || typeof t.update !== 'function') {
      throw new Error(`chain: argument ${i} is not a GradientTransformation`);
    }
  }
  const owned = ownedInputs(transforms);
  return {
    freshUpdates: owned[transforms.length],
    init(params, layout) {
      return transforms.map((t) => t.init(params, layout));
    },
    update(grads, state, params, extra) {
      if (!Array.isArray(state) || state.length !== transforms.length) {
        throw new Error(
          `chain: state must be an array of ${transforms.length} member states, got ${
            Array.isArray(state) ? `an array of ${state.length}` : String(state)
          }`,
        );
      }
      // Build the next state separately so a member that throws leaves the caller's state untouched
      // (an in-place member only ever overwrites an intermediate array of this call).
      const next: ChainState = new Array<unknown>(transforms.length);
      let updates = grads;
      for (let i = 0; i < transforms.length; i++) {
        const t = transforms[i];
        if (owned[i] && t.updateInPlace) {
          next[i] = t.updateInPlace(updates, state[i], params, extra);
        } else {
          const [u, s] = t.update(updates, state[i], params, extra);
          updates = u;
          next[i] = s;
        }
      }
      return [updates, next];
    },
  };
}
