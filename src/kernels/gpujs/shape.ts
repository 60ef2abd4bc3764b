/** Shape helpers shared by the device API (src/gpu/device) and the synchronous gpu.js kernels. */

/** gpu.js output for collapsed dims [d0, d1, d2]: 1-D or 2-D when the leading dims are 1 (denser workgroups). */
export function outputOf(d: readonly number[]): number[] {
  if (d[0] === 1 && d[1] === 1) return [d[2]];
  if (d[0] === 1) return [d[2], d[1]];
  return [d[2], d[1], d[0]];
}

/**
 * Collapses an output shape and per-input strides to exactly three dims: size-1 dims are dropped,
 * adjacent dims merge where every input is contiguous across them, then leading 1s pad to rank 3.
 * Throws when more than three dims remain.
 */
export function to3d(shape: readonly number[], ...strides: (readonly number[])[]): [number[], ...number[][]] {
  for (const s of strides)
    if (s.length !== shape.length) throw new RangeError('to3d: strides and shape differ in rank');
  let dims: number[] = [];
  let st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    dims.push(shape[d]);
    st.forEach((x, i) => x.push(strides[i][d]));
  }
  // merge from the inside out
  for (let d = dims.length - 2; d >= 0; d--) {
    if (st.every((x) => x[d] === x[d + 1] * dims[d + 1])) {
      dims[d] *= dims[d + 1];
      st.forEach((x) => x[d] = x[d + 1]); // prettier-ignore
      dims.splice(d + 1, 1);
      st.forEach((x) => x.splice(d + 1, 1));
    }
  }
  if (dims.length > 3)
    throw new RangeError(`broadcast over ${dims.length} non-mergeable dims; at most 3 are supported`);
  while (dims.length < 3) {
    dims = [1, ...dims];
    st = st.map((x) => [0, ...x]);
  }
  return [dims, ...st];
}
