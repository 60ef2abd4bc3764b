/**
 * WGSL kernels of the character-level GPT's forward and backward pass (src/nn/models/gpt.ts), for
 * the device-resident GNB probe (gpt-gnb.ts); the dense products go through the tiled
 * matmul. Each mirrors the CPU op it stands for (src/kernels/cpu: layer-norm.ts, gelu.ts,
 * softmax.ts) in float32. Shapes: N = batch·T token rows, C = nEmbd, H heads of hd = C/H, the
 * fused qkv [N, 3C] laid out as nanoGPT's [B, T, 3, H, hd], attention probabilities [B, H, T, T].
 * Kernels that produce a parameter's gradient write it into the probe's flat gradient vector `g`
 * at that parameter's offset, so the whole ĝ is assembled in one buffer and read back once.
 */
import type { WgslElementKernel } from '../device/wgsl-elementwise-kernel.js';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;
/** exp(−2u) is clamped to exp(80) (finite in float32) so the GELU formulas never meet inf/inf. */
const GELU_EXP = (v: string) => `exp(min(-2.0 * ${GELU_C} * (${v} + ${GELU_A} * ${v} * ${v} * ${v}), 80.0))`;

/** x[n, c] = wte[ids[n], c] + wpe[n mod T, c]; token ids arrive as floats. */
export const EMBED: WgslElementKernel = {
  key: 'gpt:embed',
  rw: ['x'],
  ro: ['th', 'ids'],
  u32: ['C', 'T', 'wte', 'wpe'],
  body: `let r = i / p.C;
    let c = i % p.C;
    x[i] = th[p.wte + u32(ids[r]) * p.C + c] + th[p.wpe + (r % p.T) * p.C + c];`,
};

/**
 * LayerNorm over rows of C (eps 1e-5, biased variance, as cpuLayerNorm), one invocation per row:
 * y = x̂·gain + bias, keeping x̂ and rstd for the backward pass.
 */
export const LN_FORWARD: WgslElementKernel = {
  key: 'gpt:lnForward',
  rw: ['y', 'xh', 'rstd'],
  ro: ['x', 'th'],
  u32: ['C', 'gain', 'bias'],
  body: `let o = i * p.C;
    var mean = 0.0;
    for (var j = 0u; j < p.C; j++) { mean += x[o + j]; }
    mean = mean / f32(p.C);
    var v = 0.0;
    for (var j = 0u; j < p.C; j++) { let d = x[o + j] - mean; v += d * d; }
    let inv = 1.0 / sqrt(v / f32(p.C) + 1e-5);
    rstd[i] = inv;
    for (var j = 0u; j < p.C; j++) {
      let h = (x[o + j] - mean) * inv;
      xh[o + j] = h;
      y[o + j] = h * th[p.gain + j] + th[p.bias + j];
    }`,
};

/**
 * LayerNorm's input gradient per row (cpuLayerNormVjp): rstd·(ĝ − mean ĝ − x̂·mean(ĝ⊙x̂)), ĝ = dy⊙gain,
 * added to the residual stream's gradient `res` (the LayerNorm sits on a residual branch).
 */
export function lnBackward(residual: boolean): WgslElementKernel {
  const res = residual ? 'res[o + j] + ' : '';
  return {
    key: `gpt:lnBackward:${+residual}`,
    rw: ['dx'],
    ro: ['dy', 'xh', 'rstd', 'th', ...(residual ? ['res'] : [])],
    u32: ['C', 'gain'],
    body: `let o = i * p.C;
    var mg = 0.0;
    var mgx = 0.0;
    for (var j = 0u; j < p.C; j++) { let gh = dy[o + j] * th[p.gain + j]; mg += gh; mgx += gh * xh[o + j]; }
    mg = mg / f32(p.C);
    mgx = mgx / f32(p.C);
    for (var j = 0u; j < p.C; j++) {
      dx[o + j] = ${res}rstd[i] * (dy[o + j] * th[p.gain + j] - mg - xh[o + j] * mgx);
    }`,
  };
}

/** LayerNorm's parameter gradients into g: Σ_rows dy⊙x̂ at `gain`, Σ_rows dy at `bias`; one invocation per column. */
export const LN_PARAM_GRAD: WgslElementKernel = {
  key: 'gpt:lnParamGrad',
  rw: ['g'],
  ro: ['dy', 'xh'],
  u32: ['rows', 'C', 'gain', 'bias'],
  body: `var sg = 0.0;
    var sb = 0.0;
    for (var r = 0u; r < p.rows; r++) { let d = dy[r * p.C + i]; sg += d * xh[r * p.C + i]; sb += d; }
    g[p.gain + i] = sg;
    g[p.bias + i] = sb;`,
};

/** In place y[r, c] += bias[c] (affine's fused bias), then + res[r, c] when the layer closes a residual branch. */
export function biasAdd(residual: boolean): WgslElementKernel {
  return {
    key: `gpt:biasAdd:${+residual}`,
    rw: ['y'],
    ro: ['th', ...(residual ? ['res'] : [])],
    u32: ['cols', 'bias'],
    body: `let v = y[i] + th[p.bias + i % p.cols];
    y[i] = ${residual ? 'res[i] + v' : 'v'};`,
  };
}

/** GELU, tanh form, as cpuGelu's float32 path: x / (1 + exp(−2u)), u = c(x + a x³). */
export const GELU: WgslElementKernel = {
  key: 'gpt:gelu',
  rw: ['y'],
  ro: ['x'],
  u32: [],
  body: `let v = x[i];
    y[i] = v / (1.0 + ${GELU_EXP('v')});`,
};

/** dy ⊙ GELU′(x) from e = exp(−2u), σ = 1/(1 + e): σ·(1 + 2x·e·σ·u′), as cpuGeluVjp. */
export const GELU_BACKWARD: WgslElementKernel = {
  key: 'gpt:geluBackward',
  rw: ['dx'],
  ro: ['dy', 'x'],
  u32: [],
  body: `let v = x[i];
    let e = ${GELU_EXP('v')};
    let s = 1.0 / (1.0 + e);
    dx[i] = dy[i] * (s * (1.0 + 2.0 * v * e * s * ${GELU_C} * (1.0 + ${3 * GELU_A} * v * v)));`,
};

/** Σ_rows x[r, c] into g at `off`: a bias's gradient; one invocation per column. */
export const COL_SUM: WgslElementKernel = {
  key: 'gpt:colSum',
  rw: ['g'],
  ro: ['x'],
  u32: ['rows', 'cols', 'off'],
  body: `var s = 0.0;
    for (var r = 0u; r < p.rows; r++) { s += x[r * p.cols + i]; }
    g[p.off + i] = s;`,
};

/**
 * The token embedding's gradient: Σ over the rows whose token is v of dx[r, c], added to what g
 * already holds there when the head is tied (the head's gradient, written first). One invocation
 * per (v, c): a gather's transpose without atomics.
 */
export function embedGrad(tied: boolean): WgslElementKernel {
  return {
    key: `gpt:embedGrad:${+tied}`,
    rw: ['g'],
    ro: ['dx', 'ids'],
    u32: ['rows', 'C', 'wte'],
    body: `let v = f32(i / p.C);
    let c = i % p.C;
    var s = ${tied ? 'g[p.wte + i]' : '0.0'};
    for (var r = 0u; r < p.rows; r++) { if (ids[r] == v) { s += dx[r * p.C + c]; } }
    g[p.wte + i] = s;`,
  };
}

/** The position embedding's gradient: Σ_b dx[b·T + t, c] for t < T, 0 for the positions not used. */
export const POS_GRAD: WgslElementKernel = {
  key: 'gpt:posGrad',
  rw: ['g'],
  ro: ['dx'],
  u32: ['B', 'T', 'C', 'wpe'],
  body: `let t = i / p.C;
    let c = i % p.C;
    var s = 0.0;
    if (t < p.T) { for (var b = 0u; b < p.B; b++) { s += dx[(b * p.T + t) * p.C + c]; } }
    g[p.wpe + i] = s;`,
};

/** ĝ ⊙ ĝ in place. */
export const SQUARE: WgslElementKernel = {
  key: 'gpt:square',
  rw: ['g'],
  ro: [],
  u32: [],
  body: `g[i] = g[i] * g[i];`,
};
