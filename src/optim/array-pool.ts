/**
 * Recycled Float32Arrays for a training loop that owns its optimizer states (the pipeline's
 * Coordinator; the Trainer and referenceLoop through runStep).
 *
 * Every update of a pure transformation returns fresh moment and update arrays: at 270k parameters
 * AdamW allocates 3 MB a step, and the shard reduction 1 MB more. V8 frees ArrayBuffers only in a
 * full collection, so that traffic alone costs the coordinator a mark-compact every other step (about
 * 5 ms a step, measured on the 2-worker pipeline). A loop that knows which arrays nobody can read any
 * more (the state it just replaced, the updates it just applied) gives them here; transformations take
 * from here instead of allocating when the caller passes the pool as `extra.arrays`. Without a pool
 * everything stays as pure as before.
 *
 * An array handed out has arbitrary contents: its taker writes every element. With
 * `HESSFLOW_SCRATCH_POISON=1` (as `npm test` runs) it is handed out NaN-filled, so an element left
 * unwritten shows up as a NaN instead of last step's value.
 */
import type { UpdateExtra } from './transform.js';

const poisonDefault = typeof process !== 'undefined' && process.env?.HESSFLOW_SCRATCH_POISON === '1';

export class ArrayPool {
  private readonly free = new Map<number, Float32Array[]>();
  /** Every array now in `free`, so one given twice is never handed out twice. */
  private readonly resting = new Set<Float32Array>();
  /** Arrays someone outside the loop may still hold (`keepOut`): never taken back. */
  private readonly heldOutside = new WeakSet<Float32Array>();

  /**
   * @param perLength at most this many spare arrays of each length are kept (a loop needs a few per
   *   step; the rest are left to the collector).
   */
  constructor(
    private readonly perLength = 8,
    private readonly poison = poisonDefault,
  ) {}

  /** An array of `n` elements, recycled when one is spare; its contents are undefined. */
  take(n: number): Float32Array {
    const a = this.free.get(n)?.pop();
    if (a === undefined) return new Float32Array(n);
    this.resting.delete(a);
    if (this.poison) a.fill(NaN);
    return a;
  }

  /**
   * Gives `a` back for reuse: the caller promises that nothing will read or write it again. Views
   * (which share their buffer with other data) and shared memory are not taken.
   */
  give(a: Float32Array): void {
    if (!recyclable(a) || this.resting.has(a) || this.heldOutside.has(a)) return;
    let list = this.free.get(a.length);
    if (list === undefined) this.free.set(a.length, (list = []));
    if (list.length >= this.perLength) return;
    list.push(a);
    this.resting.add(a);
  }

  /**
   * Gives every Float32Array of `dead` that `live` does not also hold: a state's unchanged parts are
   * shared with the next state (Sophia's h between estimates), and those stay live.
   */
  giveUnshared(dead: unknown, live: unknown): void {
    const keep = new Set(float32ArraysOf(live));
    for (const a of new Set(float32ArraysOf(dead))) if (!keep.has(a)) this.give(a);
  }

  /**
   * The Float32Arrays of `value` (a state handed to a caller) are never taken back, even when a later
   * state that shares them (Sophia's h between estimates) is given: the caller may still read them.
   */
  keepOut(value: unknown): void {
    for (const a of float32ArraysOf(value)) this.heldOutside.add(a);
  }

  /** Spare arrays held now (for tests and diagnostics). */
  get size(): number {
    return this.resting.size;
  }
}

/** A whole, unshared, non-shared-memory buffer: the only kind an array's owner can give away. */
function recyclable(a: Float32Array): boolean {
  return (
    a.length > 0 &&
    a.byteOffset === 0 &&
    a.byteLength === a.buffer.byteLength &&
    !(a.buffer instanceof SharedArrayBuffer)
  );
}

/** The Float32Arrays inside a state (plain objects, arrays and typed arrays, as states are built). */
export function float32ArraysOf(value: unknown, out: Float32Array[] = []): Float32Array[] {
  if (value instanceof Float32Array) out.push(value);
  else if (Array.isArray(value)) for (const v of value) float32ArraysOf(v, out);
  else if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value))
    for (const v of Object.values(value)) float32ArraysOf(v, out);
  return out;
}

/** An array of `n` elements to overwrite completely: from the caller's pool if it passed one. */
export function takeArray(n: number, extra?: UpdateExtra): Float32Array {
  return extra?.arrays ? extra.arrays.take(n) : new Float32Array(n);
}
