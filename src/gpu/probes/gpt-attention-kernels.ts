/**
 * WGSL kernels of causal multi-head self-attention (src/nn/layers/attention.ts) forward and backward,
 * for the GPT GNB probe. The fused projection qkv [N, 3C] is read in place as nanoGPT's
 * [B, T, 3, H, hd] (q, k, v of head h at columns h·hd, C + h·hd, 2C + h·hd of a row), so no split or
 * permute copies are made. As on the CPU, q is scaled by 1/√hd (rounded to float32) before the
 * scores, the causal softmax covers columns 0..i of row i and leaves exact zeros beyond, and every
 * product is float32.
 */
import type { WgslElementKernel } from '../device/wgsl-elementwise-kernel.js';

/** Row (b, h, i) of the score matrix sits at att[((b·H + h)·T + i)·T]. */
const ROW = `let T = p.T;
    let ii = i % T;
    let bh = i / T;
    let h = bh % p.H;
    let b = bh / p.H;
    let C3 = 3u * p.C;
    let hoff = h * p.hd;`;

/**
 * att = causalSoftmax((q·scale)·kᵀ) for one row (b, h, i) per invocation: the scores are written to
 * the row first, then replaced by their normalised exponentials (max-shifted, as cpuCausalSoftmax).
 */
export const ATTN_PROBS: WgslElementKernel = {
  key: 'gpt:attnProbs',
  rw: ['att'],
  ro: ['qkv'],
  u32: ['T', 'H', 'hd', 'C'],
  f32: ['scale'],
  body: `${ROW}
    let qo = (b * T + ii) * C3 + hoff;
    let o = i * T;
    var m = -3.0e38;
    for (var j = 0u; j <= ii; j++) {
      let ko = (b * T + j) * C3 + p.C + hoff;
      var s = 0.0;
      for (var d = 0u; d < p.hd; d++) { s += (qkv[qo + d] * p.scale) * qkv[ko + d]; }
      att[o + j] = s;
      m = max(m, s);
    }
    var sum = 0.0;
    for (var j = 0u; j <= ii; j++) { let e = exp(att[o + j] - m); att[o + j] = e; sum += e; }
    let inv = 1.0 / sum;
    for (var j = 0u; j < T; j++) { att[o + j] = select(0.0, att[o + j] * inv, j <= ii); }`,
};

/** y[b·T + i, h·hd + d] = Σ_{j ≤ i} att[b, h, i, j]·v[b, j, h, d]; one invocation per element of y [N, C]. */
export const ATTN_OUT: WgslElementKernel = {
  key: 'gpt:attnOut',
  rw: ['y'],
  ro: ['att', 'qkv'],
  u32: ['T', 'H', 'hd', 'C'],
  body: `let T = p.T;
    let r = i / p.C;
    let c = i % p.C;
    let h = c / p.hd;
    let b = r / T;
    let ii = r % T;
    let o = ((b * p.H + h) * T + ii) * T;
    var s = 0.0;
    for (var j = 0u; j <= ii; j++) { s += att[o + j] * qkv[(b * T + j) * 3u * p.C + 2u * p.C + c]; }
    y[i] = s;`,
};

/**
 * The scores' gradient for one row (b, h, i) per invocation: dA = dy·vᵀ, then the softmax VJP
 * att ⊙ (dA − Σ_j dA⊙att) (cpuSoftmaxVjp); masked entries are exactly 0 as att is.
 */
export const ATTN_SCORES_BACKWARD: WgslElementKernel = {
  key: 'gpt:attnScoresBackward',
  rw: ['ds'],
  ro: ['att', 'dy', 'qkv'],
  u32: ['T', 'H', 'hd', 'C'],
  body: `${ROW}
    let yo = (b * T + ii) * p.C + hoff;
    let o = i * T;
    var dot = 0.0;
    for (var j = 0u; j <= ii; j++) {
      let vo = (b * T + j) * C3 + 2u * p.C + hoff;
      var s = 0.0;
      for (var d = 0u; d < p.hd; d++) { s += dy[yo + d] * qkv[vo + d]; }
      ds[o + j] = s;
      dot += s * att[o + j];
    }
    for (var j = 0u; j < T; j++) {
      ds[o + j] = select(0.0, att[o + j] * (ds[o + j] - dot), j <= ii);
    }`,
};

/**
 * The gradient of qkv [N, 3C], one invocation per element, in nanoGPT's layout:
 *   dq[i] = scale·Σ_{j ≤ i} ds[i, j]·k[j]   (the scaled q's gradient, times the scale),
 *   dk[j] = Σ_{i ≥ j} ds[i, j]·(q[i]·scale),   dv[j] = Σ_{i ≥ j} att[i, j]·dy[i].
 */
export const ATTN_QKV_BACKWARD: WgslElementKernel = {
  key: 'gpt:attnQkvBackward',
  rw: ['dqkv'],
  ro: ['ds', 'att', 'dy', 'qkv'],
  u32: ['T', 'H', 'hd', 'C'],
  f32: ['scale'],
  body: `let T = p.T;
    let C3 = 3u * p.C;
    let r = i / C3;
    let col = i % C3;
    let part = col / p.C;
    let c = col % p.C;
    let h = c / p.hd;
    let b = r / T;
    let t = r % T;
    let base = (b * p.H + h) * T;
    var s = 0.0;
    if (part == 0u) {
      for (var j = 0u; j <= t; j++) { s += ds[(base + t) * T + j] * qkv[(b * T + j) * C3 + p.C + c]; }
      s = s * p.scale;
    } else if (part == 1u) {
      for (var q = t; q < T; q++) { s += ds[(base + q) * T + t] * (qkv[(b * T + q) * C3 + c] * p.scale); }
    } else {
      for (var q = t; q < T; q++) { s += att[(base + q) * T + t] * dy[(b * T + q) * p.C + c]; }
    }
    dqkv[i] = s;`,
};
