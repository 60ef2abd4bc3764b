import t from 'tap';
import {
  ArrayDataset,
  batchAt,
  batchSampler,
  batches,
  batchesPerEpoch,
  epochPermutation,
  type Batch,
} from '../../src/data/index.js';

// Sample i has features [i, 10·i] and label i % 3, so a batch's sample indices can be read back.
const n = 10;
const ds = new ArrayDataset({
  name: 'toy',
  inputs: Float32Array.from({ length: 2 * n }, (_, j) => (j % 2 === 0 ? j / 2 : 5 * j - 5)),
  featureShape: [2],
  targets: Int32Array.from({ length: n }, (_, i) => i % 3),
  numClasses: 3,
});
const ids = (b: Batch): number[] => Array.from({ length: b.inputShape[0] }, (_, r) => b.inputs[2 * r]);

t.test('epochPermutation is a permutation, seeded, different per epoch and seed', async (t) => {
  const p = epochPermutation(1000, 1, 0);
  t.strictSame(
    Array.from(p).sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  t.strictSame(epochPermutation(1000, 1, 0), p);
  t.notSame(Array.from(epochPermutation(1000, 1, 1)), Array.from(p));
  t.notSame(Array.from(epochPermutation(1000, 2, 0)), Array.from(p));
  t.throws(() => epochPermutation(10, 1, -1), RangeError);
});

t.test('an epoch covers every sample once; dropLast drops the short batch', async (t) => {
  const opts = { batchSize: 3, seed: 4 };
  t.equal(batchesPerEpoch(n, opts), 4);
  t.equal(batchesPerEpoch(n, { ...opts, dropLast: true }), 3);
  const epoch = [...batches(ds, opts)];
  t.strictSame(
    epoch.map((b) => b.inputShape[0]),
    [3, 3, 3, 1],
  );
  t.strictSame(
    epoch.flatMap(ids).sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  t.notSame(epoch.flatMap(ids), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'shuffled');
  for (const b of epoch) {
    t.strictSame(b.targetShape, [b.inputShape[0]]);
    ids(b).forEach((i, r) => {
      t.equal(b.targets[r], i % 3);
      t.equal(b.inputs[2 * r + 1], 10 * i);
    });
  }
  const dropped = [...batches(ds, { ...opts, dropLast: true })];
  t.strictSame(
    dropped.map((b) => b.inputShape[0]),
    [3, 3, 3],
  );
  t.equal([...batches(ds, { batchSize: 11, seed: 0, dropLast: true })].length, 0);
});

t.test('batch k is a pure function of (seed, k): iteration, batchAt and resume agree', async (t) => {
  const opts = { batchSize: 4, seed: 21, epochs: 3 };
  const all = [...batches(ds, opts)];
  t.equal(all.length, 9);
  all.forEach((b, k) => {
    t.equal(b.step, k);
    t.strictSame(batchAt(ds, opts, k), b, `batchAt(${k})`);
  });
  const resumed = [...batches(ds, { ...opts, start: 5 })];
  t.strictSame(resumed, all.slice(5));
  t.notSame(all.slice(0, 3).flatMap(ids), all.slice(3, 6).flatMap(ids), 'epochs reshuffle');
  const other = [...batches(ds, { ...opts, seed: 22 })];
  t.notSame(other.flatMap(ids), all.flatMap(ids), 'seed changes the order');
  t.strictSame([...batches(ds, opts)], all, 'deterministic');
});

t.test('shuffle: false gives dataset order; epochs: Infinity is endless', async (t) => {
  const ordered = [...batches(ds, { batchSize: 4, seed: 0, shuffle: false })];
  t.strictSame(ordered.map(ids), [
    [0, 1, 2, 3],
    [4, 5, 6, 7],
    [8, 9],
  ]);
  let count = 0;
  for (const b of batches(ds, { batchSize: 4, seed: 0, epochs: Infinity })) {
    if (++count === 50) {
      t.equal(b.step, 49);
      break;
    }
  }
  t.equal(count, 50);
  t.throws(() => batchAt(ds, { batchSize: 0, seed: 0 }, 0), /batchSize must be a positive integer/);
});

t.test('batchSampler gives batchAt’s batches, in any order of k', async (t) => {
  const ds = new ArrayDataset({
    name: 'seq',
    inputs: Float32Array.from({ length: 23 }, (_, i) => i),
    featureShape: [1],
    targets: new Int32Array(23),
    numClasses: 1,
  });
  const opts = { batchSize: 5, seed: 7 };
  const at = batchSampler(ds, opts);
  for (const k of [0, 1, 4, 5, 3, 12, 2, 11, 0]) t.same(at(k), batchAt(ds, opts, k), `batch ${k}`);
  t.same(batchSampler(ds, { ...opts, shuffle: false })(6), batchAt(ds, { ...opts, shuffle: false }, 6));
});
