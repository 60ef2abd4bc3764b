/**
 * Seeded epoch shuffling. The permutation for an epoch is drawn from its own counter-based stream
 * `rng(seed, 'shuffle', epoch)`, so epoch e's order never depends on how many epochs (or other draws)
 * came before it: a run resumed at epoch e sees exactly the order an uninterrupted run saw.
 */
import { rng } from '../random/counter-rng.js';

/** The sample order of `epoch`: a permutation of `0..n-1`, a pure function of `(n, seed, epoch)`. */
export function epochPermutation(n: number, seed: number, epoch: number): Int32Array {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`epochPermutation: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new RangeError(`epochPermutation: epoch must be a non-negative integer, got ${epoch}`);
  }
  return rng(seed, 'shuffle', epoch).permutation(n);
}
