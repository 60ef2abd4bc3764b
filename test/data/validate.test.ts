import t, { type Test } from 'tap';
import { BatchValidationError, validateBatch, type Batch, type BatchSpec } from '../../src/data/index.js';

const imageSpec: BatchSpec = {
  inputKind: 'float',
  featureShape: [784],
  targetKind: 'int',
  targetShape: [],
  numClasses: 10,
};
const lmSpec: BatchSpec = {
  inputKind: 'int',
  featureShape: [8],
  targetKind: 'int',
  targetShape: [8],
  numClasses: 89,
  vocabSize: 89,
};
const regressionSpec: BatchSpec = {
  inputKind: 'float',
  featureShape: [3],
  targetKind: 'float',
  targetShape: [2],
};

function image(b = 4): Batch {
  return {
    inputs: Float32Array.from({ length: b * 784 }, (_, i) => (i % 7) / 7),
    inputShape: [b, 784],
    targets: Int32Array.from({ length: b }, (_, i) => i % 10),
    targetShape: [b],
  };
}

function lm(b = 2): Batch {
  return {
    inputs: Int32Array.from({ length: b * 8 }, (_, i) => i % 89),
    inputShape: [b, 8],
    targets: Int32Array.from({ length: b * 8 }, (_, i) => (i + 1) % 89),
    targetShape: [b, 8],
  };
}

/** Runs validateBatch and returns the error (failing the test if none or of another class). */
function errorOf(t: Test, batch: unknown, spec: BatchSpec): BatchValidationError {
  try {
    validateBatch(batch as Batch, spec);
  } catch (e) {
    t.ok(e instanceof BatchValidationError, 'a BatchValidationError');
    return e as BatchValidationError;
  }
  t.fail('expected a BatchValidationError');
  return new BatchValidationError('missing', 'batch', null, null, 'none');
}

t.test('a valid batch is returned as the same object', async (t) => {
  const b = image();
  t.equal(validateBatch(b, imageSpec), b);
  const l = lm();
  t.equal(validateBatch(l, lmSpec), l);
  const r: Batch = {
    inputs: new Float32Array(6),
    inputShape: [2, 3],
    targets: new Float32Array(4),
    targetShape: [2, 2],
  };
  t.equal(validateBatch(r, regressionSpec), r);
});

t.test('NaN / Infinity name the sample and the feature', async (t) => {
  const b = image();
  b.inputs[3 * 784 + 17] = NaN;
  const e = errorOf(t, b, imageSpec);
  t.equal(e.reason, 'non_finite');
  t.equal(e.field, 'inputs');
  t.equal(e.sampleIndex, 3);
  t.equal(e.elementIndex, 17);
  t.equal(e.message, 'inputs[3][17] is NaN (sample 3, feature 17)');
  const c = image();
  c.inputs[784] = -Infinity;
  t.equal(errorOf(t, c, imageSpec).message, 'inputs[1][0] is -Infinity (sample 1, feature 0)');
  const r: Batch = {
    inputs: new Float32Array(6),
    inputShape: [2, 3],
    targets: Float32Array.from([0, 1, Infinity, 2]),
    targetShape: [2, 2],
  };
  const er = errorOf(t, r, regressionSpec);
  t.match(er, { reason: 'non_finite', field: 'targets', sampleIndex: 1, elementIndex: 0 });
  t.equal(er.message, 'targets[1][0] is Infinity (sample 1, component 0)');
});

t.test('labels out of range and token ids out of the vocabulary', async (t) => {
  const b = image();
  b.targets[2] = 10;
  const e = errorOf(t, b, imageSpec);
  t.match(e, { reason: 'label_range', field: 'targets', sampleIndex: 2 });
  t.equal(e.message, 'targets[2] = 10 is not a class label in [0, 10) (sample 2)');
  const neg = image();
  neg.targets[0] = -1;
  t.equal(errorOf(t, neg, imageSpec).reason, 'label_range');
  const l = lm();
  l.inputs[8 + 5] = 89;
  const el = errorOf(t, l, lmSpec);
  t.match(el, { reason: 'token_range', field: 'inputs', sampleIndex: 1, elementIndex: 5 });
  t.equal(el.message, 'inputs[1][5] = 89 is outside the vocabulary [0, 89) (sample 1, position 5)');
  const lt = lm();
  lt.targets[3] = 200;
  t.match(errorOf(t, lt, lmSpec), {
    reason: 'label_range',
    field: 'targets',
    sampleIndex: 0,
    elementIndex: 3,
  });
});

t.test('labels sent as floats: non-integer named, integral ones still a dtype error', async (t) => {
  const b = image();
  b.targets = Float32Array.from([0, 1, 2.5, 3]);
  const e = errorOf(t, b, imageSpec);
  t.match(e, { reason: 'label_not_integer', field: 'targets', sampleIndex: 2 });
  t.match(e.message, /targets\[2\] = 2\.5 is not an integer class label/);
  b.targets = Float32Array.from([0, 1, 2, 3]);
  t.match(errorOf(t, b, imageSpec), { reason: 'dtype', field: 'targets' });
  const f = image();
  f.inputs = new Int32Array(4 * 784);
  t.match(errorOf(t, f, imageSpec), { reason: 'dtype', field: 'inputs' });
  const g = image();
  (g as unknown as { inputs: number[] }).inputs = [1, 2, 3];
  t.match(errorOf(t, g, imageSpec), { reason: 'dtype', field: 'inputs', message: /got Array/ });
});

t.test('shapes, lengths, empty batches and missing fields', async (t) => {
  const wrongFeatures = image();
  wrongFeatures.inputShape = [4, 783];
  const e = errorOf(t, wrongFeatures, imageSpec);
  t.match(e, { reason: 'shape', field: 'inputShape', sampleIndex: null });
  t.equal(e.message, 'inputShape [4, 783] does not match the expected [B, 784] with B = 4');
  const mismatchedB = image();
  mismatchedB.targetShape = [3];
  t.match(errorOf(t, mismatchedB, imageSpec), { reason: 'shape', field: 'targetShape' });
  const short = image();
  short.inputs = short.inputs.subarray(1);
  t.match(errorOf(t, short, imageSpec), { reason: 'length', field: 'inputs', message: /3135 elements/ });
  const shortTargets = image();
  shortTargets.targets = shortTargets.targets.subarray(1);
  t.match(errorOf(t, shortTargets, imageSpec), { reason: 'length', field: 'targets' });
  const empty: Batch = {
    inputs: new Float32Array(0),
    inputShape: [0, 784],
    targets: new Int32Array(0),
    targetShape: [0],
  };
  t.match(errorOf(t, empty, imageSpec), { reason: 'empty', field: 'inputShape' });
  const badDim = image();
  badDim.inputShape = [4, 784.5];
  t.match(errorOf(t, badDim, imageSpec), { reason: 'shape', field: 'inputShape' });
  const noTargets = image() as Partial<Batch>;
  delete noTargets.targets;
  t.match(errorOf(t, noTargets, imageSpec), { reason: 'missing', field: 'targets' });
  t.match(errorOf(t, null, imageSpec), { reason: 'missing', field: 'batch' });
  const rank = lm();
  rank.inputShape = [16];
  t.match(errorOf(t, rank, lmSpec), { reason: 'shape', field: 'inputShape' });
});
