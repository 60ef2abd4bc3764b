/**
 * Text from a character language model: feed the last `blockSize` characters, take the logits of the
 * last position, pick the next character greedily (temperature 0) or by sampling softmax(logits / T)
 * with the counter-based rng(seed, 'generate', i) — the same text for the same seed, every time.
 */
import type { MobyDickCorpus } from '../data/moby-dick.js';
import type { Model } from '../nn/model.js';
import { rng } from '../random/counter-rng.js';
import { noGrad } from '../tensor/graph.js';
import { Tensor } from '../tensor/tensor.js';

export interface GenerateOptions {
  prompt: string;
  tokens: number;
  temperature: number;
  seed: number;
}

export function generateText(
  model: Model,
  params: Float32Array,
  corpus: MobyDickCorpus,
  blockSize: number,
  o: GenerateOptions,
): string {
  // Characters the corpus never uses are dropped from the prompt.
  const known = [...o.prompt].filter((ch) => {
    try {
      corpus.encode(ch);
      return true;
    } catch {
      return false;
    }
  });
  const ids = Array.from(corpus.encode(known.join('') || '\n'));
  const promptLength = ids.length;
  const c = model.numClasses;
  noGrad(() => {
    const p = model.layout.unflatten(new Tensor(params, [params.length]));
    const probs = new Float64Array(c);
    for (let i = 0; i < o.tokens; i++) {
      const ctx = Int32Array.from(ids.slice(-blockSize));
      const logits = model.logits(p, { data: ctx, shape: [1, ctx.length] }).data;
      const row = (ctx.length - 1) * c;
      let best = 0;
      for (let j = 1; j < c; j++) if (logits[row + j] > logits[row + best]) best = j;
      if (o.temperature === 0) {
        ids.push(best);
        continue;
      }
      for (let j = 0; j < c; j++) probs[j] = Math.exp((logits[row + j] - logits[row + best]) / o.temperature);
      ids.push(rng(o.seed, 'generate', i).categorical(probs));
    }
  });
  return corpus.decode(ids.slice(0, promptLength)) + corpus.decode(ids.slice(promptLength));
}
