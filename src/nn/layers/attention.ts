/**
 * Causal multi-head self-attention as in GPT-2/nanoGPT: one c_attn projection to q, k, v; scaled dot
 * products masked to the past; softmax; a c_proj output projection.
 */
import { mul } from '../../tensor/ops/elementwise.js';
import { causalSoftmax } from '../../tensor/ops/fused.js';
import { permute, reshape, slice } from '../../tensor/ops/layout.js';
import { matmul } from '../../tensor/ops/matmul.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ParamSpec, Params } from '../param-layout.js';
import { linear, linearSpecs } from './linear.js';

export function attentionSpecs(prefix: string, nEmbd: number, projStd: number): ParamSpec[] {
  return [
    ...linearSpecs(`${prefix}.c_attn`, nEmbd, 3 * nEmbd, { weightInit: { kind: 'normal', std: 0.02 } }),
    ...linearSpecs(`${prefix}.c_proj`, nEmbd, nEmbd, { weightInit: { kind: 'normal', std: projStd } }),
  ];
}

/** x: [B, T, C] → [B, T, C]. */
export function causalSelfAttention(p: Params, prefix: string, x: Tensor, nHead: number): Tensor {
  const [b, t, c] = x.shape;
  const hd = c / nHead;
  const qkv = linear(p, `${prefix}.c_attn`, x); // [B, T, 3C]
  // One permute splits q, k and v into heads at once: [B, T, 3, H, hd] → [3, B, H, T, hd]. Each of
  // q, k, v is then a contiguous slice (zero copy), and the backward pass writes the three slice
  // gradients straight into one buffer and permutes it back once.
  const split = permute(reshape(qkv, [b, t, 3, nHead, hd]), [2, 0, 3, 1, 4]);
  const head = (i: number): Tensor =>
    reshape(slice(split, [i, 0, 0, 0, 0], [1, b, nHead, t, hd]), [b, nHead, t, hd]);
  // Scaling q ([B, H, T, hd]) instead of the scores ([B, H, T, T]) touches T/hd times fewer values.
  const q = mul(head(0), 1 / Math.sqrt(hd));
  const k = head(1);
  const v = head(2);
  const scores = matmul(q, k, { transB: true }); // [B, H, T, T]
  // The fused causal softmax skips the masked (future) entries and leaves exact zeros there.
  const att = causalSoftmax(scores);
  const y = reshape(permute(matmul(att, v), [0, 2, 1, 3]), [b, t, c]);
  return linear(p, `${prefix}.c_proj`, y);
}
