/**
 * The device-resident Gauss-Newton-Bartlett probe of the character-level GPT (src/nn/models/gpt.ts):
 * the forward pass (token + position embeddings, pre-LayerNorm blocks of causal multi-head attention
 * and a 4× GELU MLP, final LayerNorm, tied or untied head), labels sampled from the softmax with the
 * CPU's uniforms, the mean cross-entropy's gradient backwards through everything, and ĝ⊙ĝ — all on the
 * device. The gradient is assembled in one flat buffer in the model's parameter layout (taken from
 * `gpt(spec).layout`, so it is the CPU's by construction), squared in place and read back once.
 * Dense products use the tiled WGSL matmul (../device/matmul.ts); the rest are the kernels of
 * gpt-kernels.ts and gpt-attention-kernels.ts; log-sum-exp, label sampling and the logits' gradient
 * are the MLP probe's (../device/elementwise.ts).
 */
import type { GptSpec } from '../../nn/model.js';
import { gpt } from '../../nn/models/gpt.js';
import { checkSize, need, type DeviceArray, type GpuDeviceCore } from '../device/core.js';
import { logSumExpRows, sampleLabels, softmaxXentGrad } from '../device/elementwise.js';
import { matmul } from '../device/matmul.js';
import {
  COL_SUM,
  EMBED,
  GELU,
  GELU_BACKWARD,
  LN_FORWARD,
  LN_PARAM_GRAD,
  POS_GRAD,
  SQUARE,
  biasAdd,
  embedGrad,
  lnBackward,
} from './gpt-kernels.js';
import { ATTN_OUT, ATTN_PROBS, ATTN_QKV_BACKWARD, ATTN_SCORES_BACKWARD } from './gpt-attention-kernels.js';
import { runElementKernel, type WgslElementKernel } from '../device/wgsl-elementwise-kernel.js';

export interface GptGnbProbeOptions {
  spec: GptSpec;
  /** Flat parameters in the GPT's layout (`gpt(spec).layout`). */
  params: DeviceArray;
  /** Token ids [batch, T] as floats (each in [0, vocabSize); not checked on the device). */
  tokens: DeviceArray;
  batch: number;
  /** Sequence length, 1 ≤ T ≤ blockSize. */
  T: number;
  /** Either fixed labels (one class id per token row, b·T + t) … */
  labels?: DeviceArray;
  /** … or one uniform in [0, 1) per token row to sample labels as the CPU's sampleLabels does. */
  uniforms?: DeviceArray;
  returnLabels?: boolean;
  /** Also read back the logits [batch·T, vocabSize] (for the host's class-boundary check). */
  returnLogits?: boolean;
}

export interface GptGnbProbeResult {
  /** ĝ⊙ĝ in the flat parameter layout. */
  diag: Float32Array;
  labels?: Int32Array;
  logits?: Float32Array;
}

interface LayerNormOut {
  y: DeviceArray;
  xh: DeviceArray;
  rstd: DeviceArray;
}

/** What the backward pass needs from one block's forward pass. */
interface BlockSaved {
  ln1: LayerNormOut;
  qkv: DeviceArray;
  att: DeviceArray;
  yatt: DeviceArray;
  ln2: LayerNormOut;
  fc: DeviceArray;
  act: DeviceArray;
}

export async function gptGnbProbe(dev: GpuDeviceCore, o: GptGnbProbeOptions): Promise<GptGnbProbeResult> {
  const { spec, params, tokens, batch, T } = o;
  const layout = gpt(spec).layout; // validates the spec
  const { vocabSize: V, nLayer, nHead: H, nEmbd: C, blockSize } = spec;
  const tied = spec.tied ?? true;
  checkSize('batch', batch, 1);
  checkSize('T', T, 1);
  if (T > blockSize) throw new RangeError(`gptGnbProbe: T ${T} exceeds blockSize ${blockSize}`);
  const N = batch * T;
  const hd = C / H;
  const F = 4 * C;
  const scale = Math.fround(1 / Math.sqrt(hd));
  need('params', params, layout.size);
  need('tokens', tokens, N);
  if (!o.labels && !o.uniforms) throw new Error('gptGnbProbe: give labels or uniforms');
  const off = (name: string) => layout.get(name).offset;
  const headOff = off(tied ? 'transformer.wte.weight' : 'lm_head.weight');

  const temps: DeviceArray[] = [];
  const keep = (x: DeviceArray) => (temps.push(x), x);
  const alloc = (n: number) => keep(dev.alloc(n));
  const run = (k: WgslElementKernel, n: number, b: DeviceArray[], u: number[], f: number[] = []) =>
    runElementKernel(dev, k, n, b, u, f);
  const layerNorm = (x: DeviceArray, prefix: string): LayerNormOut => {
    const r = { y: alloc(N * C), xh: alloc(N * C), rstd: alloc(N) };
    run(LN_FORWARD, N, [r.y, r.xh, r.rstd, x, params], [C, off(`${prefix}.weight`), off(`${prefix}.bias`)]);
    return r;
  };
  /** y = x·Wᵀ + b (+ res): the matmul, then the bias (and residual) added in place. */
  const linear = async (x: DeviceArray, prefix: string, inF: number, outF: number, res?: DeviceArray) => {
    const y = keep(
      await matmul(dev, x, params, { m: N, n: outF, k: inF, transB: true, bOffset: off(`${prefix}.weight`) }),
    );
    run(biasAdd(!!res), N * outF, [y, params, ...(res ? [res] : [])], [outF, off(`${prefix}.bias`)]);
    return y;
  };

  try {
    // ---- forward ----
    let x = alloc(N * C);
    run(
      EMBED,
      N * C,
      [x, params, tokens],
      [C, T, off('transformer.wte.weight'), off('transformer.wpe.weight')],
    );
    const saved: BlockSaved[] = [];
    for (let l = 0; l < nLayer; l++) {
      const h = `transformer.h.${l}`;
      const ln1 = layerNorm(x, `${h}.ln_1`);
      const qkv = await linear(ln1.y, `${h}.attn.c_attn`, C, 3 * C);
      const att = alloc(batch * H * T * T);
      run(ATTN_PROBS, batch * H * T, [att, qkv], [T, H, hd, C], [scale]);
      const yatt = alloc(N * C);
      run(ATTN_OUT, N * C, [yatt, att, qkv], [T, H, hd, C]);
      x = await linear(yatt, `${h}.attn.c_proj`, C, C, x);
      const ln2 = layerNorm(x, `${h}.ln_2`);
      const fc = await linear(ln2.y, `${h}.mlp.c_fc`, C, F);
      const act = alloc(N * F);
      run(GELU, N * F, [act, fc], []);
      x = await linear(act, `${h}.mlp.c_proj`, F, C, x);
      saved.push({ ln1, qkv, att, yatt, ln2, fc, act });
    }
    const lnf = layerNorm(x, 'transformer.ln_f');
    const logits = keep(
      await matmul(dev, lnf.y, params, { m: N, n: V, k: C, transB: true, bOffset: headOff }),
    );

    // ---- labels and the logits' gradient (mean over the N token rows) ----
    const lse = keep(await logSumExpRows(dev, logits, N, V));
    const labels = o.labels ?? keep(await sampleLabels(dev, logits, o.uniforms!, N, V));
    const dz = keep(await softmaxXentGrad(dev, logits, lse, labels, N, V, 1 / N));

    // ---- backward: every parameter's gradient lands in g at its offset ----
    const g = alloc(layout.size);
    /** Back through y = x·Wᵀ + b: W's and b's gradients into g; returns dL/dx. */
    const linearBack = async (dy: DeviceArray, x: DeviceArray, prefix: string, inF: number, outF: number) => {
      const w = off(`${prefix}.weight`);
      await matmul(dev, dy, x, { m: outF, n: inF, k: N, transA: true, out: g, outOffset: w });
      run(COL_SUM, outF, [g, dy], [N, outF, off(`${prefix}.bias`)]);
      return keep(await matmul(dev, dy, params, { m: N, n: inF, k: outF, bOffset: w }));
    };
    /** Back through a LayerNorm on a residual branch (or the final one): its parameters' gradients into g. */
    const layerNormBack = (dy: DeviceArray, s: LayerNormOut, prefix: string, res?: DeviceArray) => {
      const dx = alloc(N * C);
      const gain = off(`${prefix}.weight`);
      run(lnBackward(!!res), N, [dx, dy, s.xh, s.rstd, params, ...(res ? [res] : [])], [C, gain]);
      run(LN_PARAM_GRAD, C, [g, dy, s.xh], [N, C, gain, off(`${prefix}.bias`)]);
      return dx;
    };

    // the head writes its weight's gradient first: a tied head's is then added to by the embedding
    await matmul(dev, dz, lnf.y, { m: V, n: C, k: N, transA: true, out: g, outOffset: headOff });
    const dlnf = keep(await matmul(dev, dz, params, { m: N, n: C, k: V, bOffset: headOff }));
    let dx = layerNormBack(dlnf, lnf, 'transformer.ln_f');
    for (let l = nLayer - 1; l >= 0; l--) {
      const h = `transformer.h.${l}`;
      const s = saved[l];
      const dact = await linearBack(dx, s.act, `${h}.mlp.c_proj`, F, C);
      const dfc = alloc(N * F);
      run(GELU_BACKWARD, N * F, [dfc, dact, s.fc], []);
      const dln2 = await linearBack(dfc, s.ln2.y, `${h}.mlp.c_fc`, C, F);
      dx = layerNormBack(dln2, s.ln2, `${h}.ln_2`, dx);
      const dyatt = await linearBack(dx, s.yatt, `${h}.attn.c_proj`, C, C);
      const ds = alloc(batch * H * T * T);
      run(ATTN_SCORES_BACKWARD, batch * H * T, [ds, s.att, dyatt, s.qkv], [T, H, hd, C]);
      const dqkv = alloc(N * 3 * C);
      run(ATTN_QKV_BACKWARD, N * 3 * C, [dqkv, ds, s.att, dyatt, s.qkv], [T, H, hd, C], [scale]);
      const dln1 = await linearBack(dqkv, s.ln1.y, `${h}.attn.c_attn`, C, 3 * C);
      dx = layerNormBack(dln1, s.ln1, `${h}.ln_1`, dx);
    }
    run(embedGrad(tied), V * C, [g, dx, tokens], [N, C, off('transformer.wte.weight')]);
    run(POS_GRAD, blockSize * C, [g, dx], [batch, T, C, off('transformer.wpe.weight')]);
    run(SQUARE, layout.size, [g], []);

    const result: GptGnbProbeResult = { diag: await dev.download(g, layout.size) };
    if (o.returnLabels) result.labels = Int32Array.from(await dev.download(labels, N));
    if (o.returnLogits) result.logits = await dev.download(logits, N * V);
    return result;
  } finally {
    for (const t of temps) t.free();
  }
}
