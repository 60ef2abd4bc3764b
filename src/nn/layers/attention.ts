/**
 * Causal multi-head self-attention as in GPT-2/nanoGPT: one c_attn projection to q, k, v; scaled dot
 * products masked to the past; softmax; a c_proj output projection.
 */
import { softmax } from '../../tensor/functional.js';
import { mul, where } from '../../tensor/ops/elementwise.js';
import { permute, reshape, slice } from '../../tensor/ops/layout.js';
import { matmul } from '../../tensor/ops/matmul.js';
import { type DType, Tensor, arrayFor } from '../../tensor/tensor.js';
import type { ParamSpec, Params } from '../param-layout.js';
import { linear, linearSpecs } from './linear.js';

export function attentionSpecs(prefix: string, nEmbd: number, projStd: number): ParamSpec[] {
  return [
    ...linearSpecs(`${prefix}.c_attn`, nEmbd, 3 * nEmbd, { weightInit: { kind: 'normal', std: 0.02 } }),
    ...linearSpecs(`${prefix}.c_proj`, nEmbd, nEmbd, { weightInit: { kind: 'normal', std: projStd } }),
  ];
}

const causalMasks = new Map<string, Tensor>();

/** 1 on and below the diagonal of a [T, T] matrix (a constant, cached per size and dtype). */
function causalMask(t: number, dtype: DType): Tensor {
  const key = `${t}:${dtype}`;
  let m = causalMasks.get(key);
  if (!m) {
    const data = arrayFor(dtype, t * t);
    for (let i = 0; i < t; i++) data.fill(1, i * t, i * t + i + 1);
    causalMasks.set(key, (m = new Tensor(data, [t, t])));
  }
  return m;
}

/** x: [B, T, C] → [B, T, C]. */
export function causalSelfAttention(p: Params, prefix: string, x: Tensor, nHead: number): Tensor {
  const [b, t, c] = x.shape;
  const hd = c / nHead;
  const qkv = linear(p, `${prefix}.c_attn`, x); // [B, T, 3C]
  const heads = (i: number): Tensor =>
    permute(reshape(slice(qkv, [0, 0, i * c], [b, t, c]), [b, t, nHead, hd]), [0, 2, 1, 3]); // [B, H, T, hd]
  // Scaling q ([B, H, T, hd]) instead of the scores ([B, H, T, T]) touches T/hd times fewer values.
  const q = mul(heads(0), 1 / Math.sqrt(hd));
  const k = heads(1);
  const v = heads(2);
  const scores = matmul(q, k, { transB: true }); // [B, H, T, T]
  // Masked scores get a large negative constant: exp underflows to exactly 0 after the max shift.
  const att = softmax(where(causalMask(t, x.dtype), scores, -1e9));
  const y = reshape(permute(matmul(att, v), [0, 2, 1, 3]), [b, t, c]);
  return linear(p, `${prefix}.c_proj`, y);
}
