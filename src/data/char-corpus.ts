/**
 * Any text as a character-level language-modelling corpus (Moby Dick is one, src/data/moby-dick.ts).
 *
 * - **Vocabulary:** the sorted unique characters of the whole text (so validation never meets an
 *   unknown character), or a given one (a saved run's, so ids keep their meaning).
 * - **Split:** by position, as nanoGPT does: the first ⌊trainFraction·N⌋ characters train (default
 *   90%), the rest validation. Windows never straddle the boundary because each split gets its own
 *   `TokenWindows`.
 */
import type { Batch } from './batch.js';
import { CharVocab } from './char-vocab.js';
import { TokenWindows } from './token-windows.js';
import { unigramCrossEntropy, unigramEntropy } from './unigram-entropy.js';

export interface CharCorpusOptions {
  /** Names the windows' datasets (default 'text'). */
  name?: string;
  /** Fraction of the characters, from the start, that train (default 0.9). */
  trainFraction?: number;
  /** A fixed vocabulary (default: the text's characters); a character outside it is an error. */
  vocab?: CharVocab;
}

export class CharCorpus {
  readonly text: string;
  readonly vocab: CharVocab;
  /** The whole text encoded. */
  readonly tokens: Int32Array;
  /** The first ⌊trainFraction·N⌋ tokens (a view of `tokens`). */
  readonly trainTokens: Int32Array;
  /** The remaining tokens (a view of `tokens`). */
  readonly validationTokens: Int32Array;
  /** Entropy of the character distribution of the whole text, in nats. */
  readonly unigramEntropy: number;
  /**
   * Cross-entropy of the validation text under the train split's character frequencies (add-one
   * smoothed), in nats: what a context-free model scores on held-out text, the bar a LM must clear.
   */
  readonly unigramValidationCrossEntropy: number;
  private readonly windowCache = new Map<string, TokenWindows>();

  readonly name: string;

  constructor(text: string, options: CharCorpusOptions = {}) {
    const trainFraction = options.trainFraction ?? 0.9;
    if (!(trainFraction > 0 && trainFraction < 1))
      throw new RangeError(`CharCorpus: trainFraction must lie in (0, 1), got ${trainFraction}`);
    this.name = options.name ?? 'text';
    this.text = text;
    this.vocab = options.vocab ?? CharVocab.fromText(text);
    this.tokens = this.vocab.encode(text);
    const nTrain = Math.floor(trainFraction * this.tokens.length);
    this.trainTokens = this.tokens.subarray(0, nTrain);
    this.validationTokens = this.tokens.subarray(nTrain);
    this.unigramEntropy = unigramEntropy(this.tokens, this.vocab.size);
    this.unigramValidationCrossEntropy = unigramCrossEntropy(
      this.trainTokens,
      this.validationTokens,
      this.vocab.size,
    );
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  encode(text: string): Int32Array {
    return this.vocab.encode(text);
  }

  decode(ids: ArrayLike<number>): string {
    return this.vocab.decode(ids);
  }

  /** The windows of one split for a block size (cached; they are views, cheap to keep). */
  windows(split: 'train' | 'validation', blockSize: number): TokenWindows {
    const key = `${split}:${blockSize}`;
    let w = this.windowCache.get(key);
    if (!w) {
      const tokens = split === 'train' ? this.trainTokens : this.validationTokens;
      w = new TokenWindows(`${this.name}-${split}`, tokens, blockSize, this.vocab.size);
      this.windowCache.set(key, w);
    }
    return w;
  }

  /** Random training windows for `step`: a pure function of (batchSize, blockSize, seed, step). */
  trainBatch(batchSize: number, blockSize: number, seed: number, step: number): Batch {
    return this.windows('train', blockSize).sampleWindows(batchSize, seed, step);
  }

  /** The same `count` validation batches every time for the same arguments. */
  fixedValidationBatches(count: number, batchSize: number, blockSize: number, seed: number): Batch[] {
    return this.windows('validation', blockSize).fixedBatches(count, batchSize, seed);
  }
}
