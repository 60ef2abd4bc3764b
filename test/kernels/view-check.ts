/** Views for the wasm kernel tests: operands at odd offsets inside larger buffers, and a guard around them. */

const SENTINEL = -7.25;

/** A copy of src at element offset `at` inside a larger buffer (shared or not) filled with a sentinel. */
export function view(src: Float32Array, at: number, shared: boolean): Float32Array {
  const n = src.length;
  const buffer = shared ? new SharedArrayBuffer((n + 8) * 4) : new ArrayBuffer((n + 8) * 4);
  const v = new Float32Array(buffer).fill(SENTINEL).subarray(at, at + n);
  v.set(src);
  return v;
}

/** The elements of v's buffer outside v all still hold the sentinel. */
export function surroundingsIntact(v: Float32Array): boolean {
  const all = new Float32Array(v.buffer);
  const from = v.byteOffset / 4;
  return all.every((x, i) => (i >= from && i < from + v.length) || x === SENTINEL);
}
