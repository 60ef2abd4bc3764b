/**
 * Scratch memory for the intermediates of one computation, such as a training step's forward and
 * backward passes.
 *
 * A char-GPT step allocates about 77 MB of typed arrays in some 130 large buffers, all dead once the
 * step's gradient is out. Fresh ones cost page faults, zeroing and a full garbage collection per step
 * (together about a fifth of the step). Inside `withScratch`, `arrayFor` hands out the buffers of the
 * previous scope instead: the k-th request for a (dtype, size) gets the k-th buffer of that size,
 * zeroed as a fresh one would be, or not at all for a kernel's output (`kernelOutput`), which the
 * kernel overwrites in full. The arithmetic, and so every result bit, is unchanged.
 *
 * The contract: nothing allocated inside a scope is used after it ends, so a scope's result must be
 * plain numbers or copies. With `HESSFLOW_SCRATCH_POISON=1` in the environment (as `npm test` sets
 * it), every buffer is filled with NaN when its scope ends, so an intermediate that escapes turns
 * whatever reads it into NaN, which the tests catch.
 */
import type { DType, FloatArray } from './tensor.js';

interface Shelf {
  buffers: FloatArray[];
  /** How many of `buffers` the current scope has handed out. */
  used: number;
}

class ScratchArena {
  /** Keyed by size, negated (minus one) for float64. */
  private readonly shelves = new Map<number, Shelf>();

  /**
   * A buffer of `size` elements, zeroed unless `zero` is false (the caller writes every element). In
   * poison mode an unzeroed buffer is handed out NaN-filled, so an element left unwritten shows.
   */
  take(dtype: DType, size: number, zero: boolean): FloatArray {
    const key = dtype === 'float64' ? -size - 1 : size;
    let shelf = this.shelves.get(key);
    if (!shelf) {
      shelf = { buffers: [], used: 0 };
      this.shelves.set(key, shelf);
    }
    let buf: FloatArray;
    if (shelf.used < shelf.buffers.length) {
      buf = shelf.buffers[shelf.used++];
      if (zero) buf.fill(0);
    } else {
      buf = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
      shelf.buffers.push(buf);
      shelf.used++;
    }
    if (!zero && poison) buf.fill(NaN);
    return buf;
  }

  /** Ends a scope: every buffer is free again; those it did not use are dropped (shapes changed). */
  release(poison: boolean): void {
    for (const [key, shelf] of this.shelves) {
      if (shelf.used === 0) {
        this.shelves.delete(key);
        continue;
      }
      shelf.buffers.length = shelf.used;
      if (poison) for (const b of shelf.buffers) b.fill(NaN);
      shelf.used = 0;
    }
  }
}

const arena = new ScratchArena();
let poison = typeof process !== 'undefined' && process.env?.HESSFLOW_SCRATCH_POISON === '1';
let depth = 0;

/** Turns poisoning on or off (the environment sets the start value); returns the previous setting. */
export function setScratchPoison(on: boolean): boolean {
  const was = poison;
  poison = on;
  return was;
}

/** The arena `arrayFor` draws from, or null outside any scope. */
export function activeScratch(): ScratchArena | null {
  return depth > 0 ? arena : null;
}

/**
 * Runs `fn` (synchronous) with the arrays of the tensor ops it calls in scratch memory. Nested scopes
 * belong to the outermost one. `fn`'s result must not hold an array allocated inside: copy what you keep.
 */
export function withScratch<T>(fn: () => T): T {
  depth++;
  try {
    const result = fn();
    if (typeof (result as { then?: unknown } | null)?.then === 'function')
      throw new TypeError(
        'withScratch: fn must be synchronous (its scratch memory is reused when it returns)',
      );
    return result;
  } finally {
    depth--;
    if (depth === 0) arena.release(poison);
  }
}
