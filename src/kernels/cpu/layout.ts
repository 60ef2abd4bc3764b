/** CPU reference kernels that move data without arithmetic: permute, gather/scatter-add, box copies. */
import type { CopyBoxKernel, GatherKernel, PermuteKernel, ScatterAddKernel } from '../registry.js';
import { stridesOf } from '../../tensor/shape.js';

export const cpuPermute: PermuteKernel = (x, xShape, perm, out) => {
  const rank = xShape.length;
  const xs = stridesOf(xShape);
  const outShape = perm.map((p) => xShape[p]);
  const srcStride = perm.map((p) => xs[p]); // stride in x for each output dim
  const n = out.length;
  if (n === 0) return;
  if (rank === 0) {
    out[0] = x[0];
    return;
  }
  const idx = new Int32Array(rank);
  const inner = outShape[rank - 1];
  const si = srcStride[rank - 1];
  let off = 0,
    o = 0;
  while (o < n) {
    let p = off;
    for (let j = 0; j < inner; j++) {
      out[o++] = x[p];
      p += si;
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      off += srcStride[d];
      if (idx[d] < outShape[d]) break;
      off -= srcStride[d] * outShape[d];
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
