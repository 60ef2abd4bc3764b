/**
 * Language-model windows over a token stream: a window starting at s is `block + 1` consecutive tokens;
 * its inputs are the first `block`, its targets the same positions shifted by one (next-token labels).
 *
 * As a `Dataset`, sample i is the window starting at position i (there are `length − block` of them),
 * so the generic epoch batching works. Training usually samples start positions at random instead
 * (nanoGPT's `get_batch`); `sampleWindows` does that with a counter-based stream per step, so batch t is a
 * pure function of (seed, t) however many batches were drawn before.
 */
import { rng } from '../random/counter-rng.js';
import type { Batch, Dataset } from './batch.js';

export class TokenWindows implements Dataset {
  readonly inputKind = 'int' as const;
  readonly targetKind = 'int' as const;
  readonly featureShape: readonly number[];
  readonly targetShape: readonly number[];
  readonly numClasses: number;
  readonly vocabSize: number;
  readonly size: number;

  constructor(
    readonly name: string,
    /** The token stream (not copied; read-only by convention). */
    readonly tokens: Int32Array,
    readonly blockSize: number,
    vocabSize: number,
  ) {
    if (!Number.isInteger(blockSize) || blockSize < 1)
      throw new RangeError(`blockSize must be >= 1, got ${blockSize}`);
    if (tokens.length < blockSize + 1) {
      throw new RangeError(`${name}: ${tokens.length} tokens cannot hold a window of ${blockSize + 1}`);
    }
    this.featureShape = Object.freeze([blockSize]);
    this.targetShape = Object.freeze([blockSize]);
    this.vocabSize = vocabSize;
    this.numClasses = vocabSize;
    this.size = tokens.length - blockSize;
  }

  /** Windows starting at the given positions, as one `[B, T]` batch. */
  gather(starts: ArrayLike<number>): Batch {
    const b = starts.length;
    const t = this.blockSize;
    const inputs = new Int32Array(b * t);
    const targets = new Int32Array(b * t);
    for (let r = 0; r < b; r++) {
      const s = starts[r];
      if (!Number.isInteger(s) || s < 0 || s >= this.size) {
        throw new RangeError(`${this.name}: window start ${s} outside [0, ${this.size})`);
      }
      inputs.set(this.tokens.subarray(s, s + t), r * t);
      targets.set(this.tokens.subarray(s + 1, s + 1 + t), r * t);
    }
    return { inputs, inputShape: [b, t], targets, targetShape: [b, t] };
  }

  /** Start positions of the random batch for `step`: uniform over all windows, from `rng(seed, purpose, step)`. */
  sampleStarts(batchSize: number, seed: number, step: number, purpose = 'lm-batch'): Int32Array {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`batchSize must be >= 1, got ${batchSize}`);
    const r = rng(seed, purpose, this.name, step);
    const starts = new Int32Array(batchSize);
    for (let i = 0; i < batchSize; i++) starts[i] = r.int(this.size);
    return starts;
  }

  /** The random batch for `step`, tagged with it. */
  sampleWindows(batchSize: number, seed: number, step: number): Batch {
    const batch = this.gather(this.sampleStarts(batchSize, seed, step));
    batch.step = step;
    batch.id = `${this.name}:${seed}:${step}`;
    return batch;
  }

  /**
   * A fixed list of `count` batches for evaluation (e.g. validation loss). Batch i uses the stream
   * `rng(seed, 'lm-fixed', name, i)`, so the list is the same every call and every run.
   */
  fixedBatches(count: number, batchSize: number, seed: number): Batch[] {
    const out: Batch[] = [];
    for (let i = 0; i < count; i++) {
      const batch = this.gather(this.sampleStarts(batchSize, seed, i, 'lm-fixed'));
      batch.step = i;
      batch.id = `${this.name}:fixed:${seed}:${i}`;
      out.push(batch);
    }
    return out;
  }
}
