/**
 * Seeded minibatching over a finite dataset.
 *
 * Batch k is a pure function of `(dataset, options, k)`: epoch e = ⌊k / batchesPerEpoch⌋ is shuffled
 * with `epochPermutation(size, seed, e)` and batch k takes its slice of that order. Nothing depends on
 * iteration history, so a resumed run (`start: k`) and a worker rebuilding batch k independently get the
 * same samples as an uninterrupted loop.
 */
import type { Batch, Dataset } from './batch.js';
import { epochPermutation } from './shuffle.js';

export interface BatchingOptions {
  batchSize: number;
  /** Shuffle seed. Ignored when `shuffle` is false. */
  seed: number;
  /** Drop each epoch's final short batch (default false). */
  dropLast?: boolean;
  /** Shuffle every epoch (default true). `false` gives dataset order, e.g. for evaluation. */
  shuffle?: boolean;
}

export interface BatchIterationOptions extends BatchingOptions {
  /** Index of the first batch to yield (default 0), for resuming. */
  start?: number;
  /** Number of epochs to cover (default 1); `Infinity` for an endless stream. */
  epochs?: number;
}

/** Batches per epoch under these options (0 when dropLast and the dataset is smaller than a batch). */
export function batchesPerEpoch(size: number, opts: BatchingOptions): number {
  checkBatchSize(opts.batchSize);
  return opts.dropLast ? Math.floor(size / opts.batchSize) : Math.ceil(size / opts.batchSize);
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
}

/** Sample indices of batch k. */
export function batchIndices(size: number, opts: BatchingOptions, k: number, order?: Int32Array): Int32Array {
  const perEpoch = batchesPerEpoch(size, opts);
  if (perEpoch === 0) throw new RangeError(`dataset of ${size} samples yields no batch of ${opts.batchSize}`);
  if (!Number.isInteger(k) || k < 0)
    throw new RangeError(`batch index must be a non-negative integer, got ${k}`);
  const epoch = Math.floor(k / perEpoch);
  const j = k - epoch * perEpoch;
  const lo = j * opts.batchSize;
  const hi = Math.min(lo + opts.batchSize, size);
  if (opts.shuffle === false) {
    const idx = new Int32Array(hi - lo);
    for (let i = 0; i < idx.length; i++) idx[i] = lo + i;
    return idx;
  }
  const perm = order ?? epochPermutation(size, opts.seed, epoch);
  return perm.slice(lo, hi);
}

/** Batch k of `dataset` under `opts`, tagged with `step: k`. */
export function batchAt(dataset: Dataset, opts: BatchingOptions, k: number): Batch {
  return tag(dataset, opts, k, dataset.gather(batchIndices(dataset.size, opts, k)));
}

/**
 * `batchAt` for one dataset and options, keeping the permutation of the latest epoch: batch k is the same,
 * but drawing the permutation (O(size)) happens once per epoch instead of once per batch, which matters
 * for a large dataset (a user's file of a million rows).
 */
export function batchSampler(dataset: Dataset, opts: BatchingOptions): (k: number) => Batch {
  const perEpoch = batchesPerEpoch(dataset.size, opts);
  let cachedEpoch = -1;
  let order: Int32Array | undefined;
  return (k) => {
    if (perEpoch > 0 && Number.isInteger(k) && k >= 0 && opts.shuffle !== false) {
      const epoch = Math.floor(k / perEpoch);
      if (epoch !== cachedEpoch) {
        order = epochPermutation(dataset.size, opts.seed, epoch);
        cachedEpoch = epoch;
      }
    }
    return tag(dataset, opts, k, dataset.gather(batchIndices(dataset.size, opts, k, order)));
  };
}

function tag(dataset: Dataset, opts: BatchingOptions, k: number, batch: Batch): Batch {
  batch.step = k;
  batch.id = `${dataset.name}:${opts.shuffle === false ? 'ordered' : opts.seed}:${k}`;
  return batch;
}

/**
 * Iterates batches `start, start+1, …` over `epochs` epochs. Equal, batch for batch, to calling `batchAt`
 * for each k; it only caches the current epoch's permutation instead of redrawing it per batch.
 */
export function* batches(dataset: Dataset, opts: BatchIterationOptions): Generator<Batch, void, undefined> {
  const perEpoch = batchesPerEpoch(dataset.size, opts);
  if (perEpoch === 0) return;
  const epochs = opts.epochs ?? 1;
  if (!(epochs >= 0)) throw new RangeError(`epochs must be >= 0, got ${epochs}`);
  const end = epochs === Infinity ? Infinity : Math.floor(epochs * perEpoch);
  let cachedEpoch = -1;
  let order: Int32Array | undefined;
  for (let k = opts.start ?? 0; k < end; k++) {
    const epoch = Math.floor(k / perEpoch);
    if (opts.shuffle !== false && epoch !== cachedEpoch) {
      order = epochPermutation(dataset.size, opts.seed, epoch);
      cachedEpoch = epoch;
    }
    yield tag(dataset, opts, k, dataset.gather(batchIndices(dataset.size, opts, k, order)));
  }
}
