/**
 * Causal self-attention (one permute for the q/k/v head split, the fused causal softmax) against an
 * independent composite built the plain way: three strided slices, a permute per head tensor, a
 * `where` over a −1e9-filled causal mask and the generic softmax. Values, gradients and Hessian-vector
 * products must agree in float64, so the head split, the masking and the fused VJPs are all checked.
 */
import t from 'tap';
import { attentionSpecs, causalSelfAttention } from '../../src/nn/layers/attention.js';
import { ParamLayout } from '../../src/nn/param-layout.js';
import {
  type Tensor,
  add,
  hvp,
  matmul,
  mul,
  permute,
  reshape,
  slice,
  softmax,
  sum,
  tanh,
  tensor,
  valueAndGrad,
  where,
} from '../../src/tensor/index.js';
import { normals } from '../helpers/random.js';

const [B, T, C, H] = [2, 5, 6, 3];
const layout = new ParamLayout(attentionSpecs('attn', C, 0.02));
const X = normals(B * T * C, 1, 'x');
const W = normals(B * T * C, 1, 'readout');

function reference(flat: Tensor): Tensor {
  const p = layout.unflatten(flat);
  const x = tensor(X, [B, T, C], 'float64');
  const hd = C / H;
  const qkv = add(
    matmul(reshape(x, [B * T, C]), p.get('attn.c_attn.weight'), { transB: true }),
    p.get('attn.c_attn.bias'),
  );
  const part = (i: number) =>
    permute(
      reshape(slice(reshape(qkv, [B, T, 3 * C]), [0, 0, i * C], [B, T, C]), [B, T, H, hd]),
      [0, 2, 1, 3],
    );
  const scores = mul(matmul(part(0), part(1), { transB: true }), 1 / Math.sqrt(hd));
  const mask = tensor(
    Float64Array.from({ length: T * T }, (_, k) => (k % T <= Math.floor(k / T) ? 1 : 0)),
    [T, T],
    'float64',
  );
  const att = softmax(where(mask, scores, -1e9), -1);
  const y = reshape(permute(matmul(att, part(2)), [0, 2, 1, 3]), [B * T, C]);
  return add(matmul(y, p.get('attn.c_proj.weight'), { transB: true }), p.get('attn.c_proj.bias'));
}

const layer = (flat: Tensor): Tensor =>
  causalSelfAttention(layout.unflatten(flat), 'attn', tensor(X, [B, T, C], 'float64'), H);

/** A nonlinear read-out, so the HVP has curvature from more than the attention itself. */
const loss = (f: (flat: Tensor) => Tensor) => (flat: Tensor) =>
  sum(mul(tanh(reshape(f(flat), [B * T * C])), tensor(W, [B * T * C], 'float64')));

function worst(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let w = 0;
  let scale = 1e-300;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]));
  return a.length === b.length ? w / scale : Infinity;
}

t.test('attention with the fused head split and causal softmax equals the plain composite', async (t) => {
  const theta = tensor(
    normals(layout.size, 2, 'theta').map((v) => 0.5 * v),
    [layout.size],
    'float64',
  );
  const v = tensor(normals(layout.size, 2, 'v'), [layout.size], 'float64');
  const got = layer(theta);
  t.same(got.shape, [B, T, C]);
  t.ok(worst(got.data, reference(theta).data) <= 1e-14, 'outputs agree');
  const [lg, gg] = valueAndGrad(loss(layer))(theta);
  const [lr, gr] = valueAndGrad(loss(reference))(theta);
  t.ok(Math.abs(lg.item() - lr.item()) <= 1e-14 * Math.max(1, Math.abs(lr.item())), 'losses agree');
  t.ok(worst(gg.data, gr.data) <= 1e-13, `gradients agree (${worst(gg.data, gr.data).toExponential(2)})`);
  const hg = hvp(loss(layer), theta, v);
  const hr = hvp(loss(reference), theta, v);
  t.ok(worst(hg.data, hr.data) <= 1e-12, `HVPs agree (${worst(hg.data, hr.data).toExponential(2)})`);
  // The future must not leak: changing the last position's input leaves earlier outputs unchanged.
  const x2 = X.slice();
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) x2[(b * T + T - 1) * C + c] += 1;
  const moved = causalSelfAttention(layout.unflatten(theta), 'attn', tensor(x2, [B, T, C], 'float64'), H);
  let leak = 0;
  for (let b = 0; b < B; b++)
    for (let i = 0; i < (T - 1) * C; i++)
      leak = Math.max(leak, Math.abs(moved.data[b * T * C + i] - got.data[b * T * C + i]));
  t.equal(leak, 0, 'outputs before the changed position are bit-identical');
});
