/** CPU reference kernels that move data without arithmetic: permute, gather/scatter-add, box copies. */
import type { CopyBoxKernel, GatherKernel, PermuteKernel, ScatterAddKernel } from '../registry.js';
import { stridesOf } from '../arrays.js';

/**
 * Output dims with their strides in x, with size-1 dims dropped and neighbours merged where x holds
 * them contiguously (stride[d] = stride[d + 1]·size[d + 1]): e.g. a head split [B, T, 3, H, hd] →
 * [3, B, H, T, hd] stays rank 5, but a transpose of the last two axes of [B, H, T, hd] is rank 3.
 */
export function collapsePermute(xShape: readonly number[], perm: readonly number[]): [number[], number[]] {
  const xs = stridesOf(xShape);
  const dims: number[] = [];
  const strides: number[] = [];
  for (const p of perm) {
    const n = xShape[p];
    if (n === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides[last] === xs[p] * n) {
      dims[last] *= n;
      strides[last] = xs[p];
    } else {
      dims.push(n);
      strides.push(xs[p]);
    }
  }
  return [dims, strides];
}

/**
 * Walks the output in order. The last two (collapsed) dims are plain nested loops; only the dims
 * above them go through an odometer, so its cost is paid once per inner matrix, not once per row.
 */
export const cpuPermute: PermuteKernel = (x, xShape, perm, out) => {
  const n = out.length;
  if (n === 0) return;
  const [shape, stride] = collapsePermute(xShape, perm);
  const rank = shape.length;
  if (rank === 0) {
    out[0] = x[0];
    return;
  }
  if (rank === 1) {
    const s = stride[0];
    if (s === 1) out.set(x.subarray(0, n));
    else for (let j = 0, p = 0; j < n; j++, p += s) out[j] = x[p];
    return;
  }
  const rows = shape[rank - 2];
  const cols = shape[rank - 1];
  const rs = stride[rank - 2];
  const cs = stride[rank - 1];
  const outer = rank - 2;
  const idx = new Int32Array(Math.max(outer, 1));
  let off = 0;
  let o = 0;
  while (o < n) {
    for (let r = 0, pr = off; r < rows; r++, pr += rs) {
      for (let c = 0, p = pr; c < cols; c++, p += cs) out[o++] = x[p];
    }
    for (let d = outer - 1; d >= 0; d--) {
      idx[d]++;
      off += stride[d];
      if (idx[d] < shape[d]) break;
      off -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
};

export const cpuGather: GatherKernel = (table, width, indices, out) => {
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i] * width;
    out.set(table.subarray(src, src + width), i * width);
  }
};

export const cpuScatterAdd: ScatterAddKernel = (src, width, indices, out) => {
  for (let i = 0; i < indices.length; i++) {
    const dst = indices[i] * width;
    const s = i * width;
    for (let j = 0; j < width; j++) out[dst + j] += src[s + j];
  }
};

export const cpuCopyBox: CopyBoxKernel = (src, srcShape, srcStarts, dst, dstShape, dstStarts, box) => {
  const rank = box.length;
  const ss = stridesOf(srcShape);
  const ds = stridesOf(dstShape);
  let total = 1;
  for (const d of box) total *= d;
  if (total === 0) return;
  let so = 0,
    doff = 0;
  for (let d = 0; d < rank; d++) {
    so += srcStarts[d] * ss[d];
    doff += dstStarts[d] * ds[d];
  }
  if (rank === 0) {
    dst[doff] = src[so];
    return;
  }
  const inner = box[rank - 1];
  const idx = new Int32Array(rank);
  for (let done = 0; done < total; done += inner) {
    dst.set(src.subarray(so, so + inner), doff);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      so += ss[d];
      doff += ds[d];
      if (idx[d] < box[d]) break;
      so -= ss[d] * box[d];
      doff -= ds[d] * box[d];
      idx[d] = 0;
    }
  }
};
