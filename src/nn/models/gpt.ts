/**
 * A small decoder-only GPT (nanoGPT layout and names): token + position embeddings, pre-LayerNorm
 * blocks of causal self-attention and a 4× GELU MLP, a final LayerNorm and an output head tied to
 * the token embedding by default.
 */
import { add } from '../../tensor/ops/elementwise.js';
import { gather } from '../../tensor/ops/indexing.js';
import { reshape, slice } from '../../tensor/ops/layout.js';
import { matmul } from '../../tensor/ops/matmul.js';
import { gelu } from '../../tensor/functional.js';
import { ShapeError, describeShape } from '../../tensor/errors.js';
import { causalSelfAttention, attentionSpecs } from '../layers/attention.js';
import { linear, linearSpecs } from '../layers/linear.js';
import { applyLayerNorm, layerNormSpecs } from '../layers/norm.js';
import type { GptSpec, Model } from '../model.js';
import { ParamLayout, type ParamSpec } from '../param-layout.js';

function checkSpec(spec: GptSpec): void {
  for (const key of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const) {
    const v = spec[key];
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`gpt: ${key} must be a positive integer, got ${v}`);
  }
  if (spec.nEmbd % spec.nHead !== 0)
    throw new RangeError(`gpt: nEmbd ${spec.nEmbd} is not divisible by nHead ${spec.nHead}`);
}

export function gpt(spec: GptSpec): Model {
  checkSpec(spec);
  const { vocabSize, blockSize, nLayer, nHead, nEmbd } = spec;
  const tied = spec.tied ?? true;
  // GPT-2 init: N(0, 0.02), residual projections scaled by 1/√(2·nLayer).
  const projStd = 0.02 / Math.sqrt(2 * nLayer);
  const specs: ParamSpec[] = [
    {
      name: 'transformer.wte.weight',
      shape: [vocabSize, nEmbd],
      tags: ['embedding', 'layer:transformer.wte'],
      init: { kind: 'normal', std: 0.02 },
    },
    {
      name: 'transformer.wpe.weight',
      shape: [blockSize, nEmbd],
      tags: ['embedding', 'layer:transformer.wpe'],
      init: { kind: 'normal', std: 0.02 },
    },
  ];
  for (let i = 0; i < nLayer; i++) {
    const h = `transformer.h.${i}`;
    specs.push(...layerNormSpecs(`${h}.ln_1`, nEmbd));
    specs.push(...attentionSpecs(`${h}.attn`, nEmbd, projStd));
    specs.push(...layerNormSpecs(`${h}.ln_2`, nEmbd));
    specs.push(
      ...linearSpecs(`${h}.mlp.c_fc`, nEmbd, 4 * nEmbd, { weightInit: { kind: 'normal', std: 0.02 } }),
    );
    specs.push(
      ...linearSpecs(`${h}.mlp.c_proj`, 4 * nEmbd, nEmbd, { weightInit: { kind: 'normal', std: projStd } }),
    );
  }
  specs.push(...layerNormSpecs('transformer.ln_f', nEmbd));
  if (!tied)
    specs.push(
      ...linearSpecs('lm_head', nEmbd, vocabSize, { bias: false, weightInit: { kind: 'normal', std: 0.02 } }),
    );
  const layout = new ParamLayout(specs);
  const positions = new Map<number, Int32Array>();

  return {
    spec: { ...spec, tied },
    paramSpecs: specs,
    layout,
    numClasses: vocabSize,
    ...(tied ? {} : { head: 'lm_head.weight' }),
    logits(p, inputs) {
      const ids = inputs.data;
      if (!(ids instanceof Int32Array)) throw new TypeError('gpt: inputs must be Int32Array token ids');
      if (inputs.shape.length !== 2 || inputs.shape[1] > blockSize || inputs.shape[1] < 1) {
        throw new ShapeError(
          'gpt',
          `inputs ${describeShape(inputs.shape)} must be [batch, T] with 1 <= T <= ${blockSize}`,
        );
      }
      const [b, t] = inputs.shape;
      let pos = positions.get(t);
      if (!pos) positions.set(t, (pos = Int32Array.from({ length: t }, (_, i) => i)));
      const wte = p.get('transformer.wte.weight');
      let x = add(
        gather(wte, ids, [b, t]),
        gather(slice(p.get('transformer.wpe.weight'), [0, 0], [t, nEmbd]), pos),
      );
      for (let i = 0; i < nLayer; i++) {
        const h = `transformer.h.${i}`;
        x = add(x, causalSelfAttention(p, `${h}.attn`, applyLayerNorm(p, `${h}.ln_1`, x), nHead));
        const m = linear(
          p,
          `${h}.mlp.c_proj`,
          gelu(linear(p, `${h}.mlp.c_fc`, applyLayerNorm(p, `${h}.ln_2`, x))),
        );
        x = add(x, m);
      }
      x = applyLayerNorm(p, 'transformer.ln_f', x);
      const flat = reshape(x, [b * t, nEmbd]);
      const logits = tied ? matmul(flat, wte, { transB: true }) : linear(p, 'lm_head', flat, false);
      return reshape(logits, [b, t, vocabSize]);
    },
  };
}
