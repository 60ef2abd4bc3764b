/**
 * Text from a character language model: feed the last `blockSize` characters, take the logits of the
 * last position, and pick the next character from samplingDistribution (src/cli/sampling.ts:
 * temperature, top-k; temperature 0 is greedy) with the counter-based rng(seed, 'generate', i) — the
 * same text for the same seed, every time.
 */
import type { CharVocab } from '../data/char-vocab.js';
import type { Model } from '../nn/model.js';
import { rng } from '../random/counter-rng.js';
import { noGrad } from '../tensor/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { checkSampling, drawToken, samplingDistribution } from './sampling.js';

export interface GenerateOptions {
  prompt: string;
  tokens: number;
  temperature: number;
  topK?: number;
  seed: number;
}

export function generateText(
  model: Model,
  params: Float32Array,
  vocab: CharVocab,
  blockSize: number,
  o: GenerateOptions,
): string {
  checkSampling(o);
  // Characters the vocabulary lacks are dropped from the prompt.
  const known = [...o.prompt].filter((ch) => vocab.chars.includes(ch));
  const ids = Array.from(
    vocab.encode(known.join('') || (vocab.chars.includes('\n') ? '\n' : vocab.chars[0])),
  );
  const promptLength = ids.length;
  const c = model.numClasses;
  noGrad(() => {
    const p = model.layout.unflatten(new Tensor(params, [params.length]));
    for (let i = 0; i < o.tokens; i++) {
      const ctx = Int32Array.from(ids.slice(-blockSize));
      const logits = model.logits(p, { data: ctx, shape: [1, ctx.length] }).data;
      const row = (ctx.length - 1) * c;
      const probs = samplingDistribution(logits.subarray(row, row + c), {
        temperature: o.temperature,
        ...(o.topK !== undefined ? { topK: o.topK } : {}),
      });
      ids.push(
        o.temperature === 0 ? probs.indexOf(1) : drawToken(probs, rng(o.seed, 'generate', i).uniform()),
      );
    }
  });
  return vocab.decode(ids.slice(0, promptLength)) + vocab.decode(ids.slice(promptLength));
}
