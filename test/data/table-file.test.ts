/**
 * User data files: the chunked line reader (offsets, CRLF, BOM, lines longer than a chunk), CSV and
 * JSONL rows (bad rows as file:line:column errors or counted skips), the streaming index (split,
 * normalisation statistics against values computed here by hand in float64, rows read back by offset),
 * and text corpora.
 */
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { CharVocab, DataFileError, indexTableFile, readLines, readTextCorpus } from '../../src/data/index.js';
import { rng } from '../../src/random/counter-rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'hessflow-data-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const file = (text: string | Buffer, ext = 'csv') => {
  const p = join(tmp, `f${n++}.${ext}`);
  writeFileSync(p, text);
  return p;
};

const throwsAt = (t: Test, fn: () => unknown, where: string, detail: RegExp) => {
  try {
    fn();
    t.fail(`no error at ${where}`);
  } catch (e) {
    t.ok(e instanceof DataFileError, `a DataFileError: ${(e as Error).message}`);
    t.equal((e as Error).message.split(': ')[0], where);
    t.match((e as Error).message, detail);
  }
};

t.test('readLines: offsets and lengths address each line; CRLF, BOM, no final newline', async (t) => {
  const text = '\uFEFFab,c\r\n\nxyz\nlast';
  const p = file(text);
  const bytes = readFileSync(p);
  for (const chunk of [4, 5, 7, 1 << 20]) {
    const lines = [...readLines(p, chunk)];
    t.same(
      lines.map((l) => [l.line, l.text]),
      [
        [1, 'ab,c'],
        [2, ''],
        [3, 'xyz'],
        [4, 'last'],
      ],
      `chunk ${chunk}`,
    );
    for (const l of lines)
      t.equal(
        bytes.toString('utf8', l.start, l.start + l.bytes),
        l.text,
        `line ${l.line} read back by offset`,
      );
  }
  t.throws(() => [...readLines(join(tmp, 'missing.csv'))], {
    name: 'DataFileError',
    message: /missing\.csv: cannot read/,
  });
});

t.test('CSV: bad rows name file:line:column, or are skipped and counted', async (t) => {
  const p = file('a,b,y\n1,2,0\n3,oops,1\n\n5,6,2.5\n7,8\n"9",10,1\n11,12,-1\n13,14,1\n');
  throwsAt(
    t,
    () => indexTableFile({ format: 'csv', path: p, target: 'y' }),
    `${p}:3:3`,
    /column "b": "oops" is not a finite number/,
  );
  const s = indexTableFile({
    format: 'csv',
    path: p,
    target: 'y',
    badRows: 'skip',
    evalFraction: 0.5,
    seed: 4,
  });
  t.equal(s.skipped.count, 4, 'oops, 2.5, a short row and -1');
  t.same(
    s.skipped.examples.map((m) => m.split(': ')[0]),
    [`${p}:3:3`, `${p}:5:5`, `${p}:6:4`, `${p}:8:7`],
  );
  t.match(s.skipped.examples[1], /2\.5 is not a class label/);
  t.match(s.skipped.examples[2], /2 fields, the header has 3/);
  t.equal(s.train.size + s.heldOut.size, 3, 'three good rows (one quoted)');
  throwsAt(
    t,
    () => indexTableFile({ format: 'csv', path: p, target: 'z' }),
    `${p}:1`,
    /target: no column "z"; the columns are "a", "b", "y"/,
  );
  const r = file('a,y\n1,0\n2,1\n');
  throwsAt(
    t,
    () => indexTableFile({ format: 'csv', path: r, target: 'y', numClasses: 1 }),
    `${r}:3:3`,
    /outside \[0, 1\)/,
  );
  const q = file('1,2,3\n');
  throwsAt(t, () => indexTableFile({ format: 'csv', path: q, target: 2, header: false }), q, /too few/);
});

t.test('CSV index: per-row split, train-only standardisation, rows read back by offset', async (t) => {
  const rows: number[][] = [];
  let text = 'f1;f2;label;extra\n';
  for (let i = 0; i < 200; i++) {
    const r = [i * 0.5 - 3, (i % 7) * 1.25, i % 4, 99];
    rows.push(r);
    text += `${r[0]};"${r[1]}";${r[2]};${r[3]}\r\n`;
  }
  const p = file(text);
  const o = {
    format: 'csv' as const,
    path: p,
    target: 'label',
    features: ['f1', 'f2'],
    delimiter: ';',
    normalize: 'standard' as const,
    evalFraction: 0.25,
    seed: 9,
  };
  const tf = indexTableFile(o);
  // The split, computed here: row i is held out when its coin is below 0.25.
  const held = rows.filter((_, i) => rng(9, 'data-split', i).uniform() < 0.25);
  const train = rows.filter((_, i) => !(rng(9, 'data-split', i).uniform() < 0.25));
  t.equal(tf.heldOut.size, held.length);
  t.equal(tf.train.size, train.length);
  t.ok(held.length > 20 && held.length < 80, `about a quarter held out (${held.length})`);
  t.equal(tf.numClasses, 4);
  for (const j of [0, 1]) {
    const xs = train.map((r) => r[j]);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    t.ok(Math.abs(tf.normalization.shift[j] - mean) < 1e-12, `feature ${j} mean ${mean}`);
    t.ok(Math.abs(tf.normalization.scale[j] - std) < 1e-12, `feature ${j} std ${std}`);
  }
  const b = tf.train.gather([5, 0, train.length - 1]);
  t.same(b.inputShape, [3, 2]);
  [5, 0, train.length - 1].forEach((i, r) => {
    t.equal(b.targets[r], train[i][2]);
    for (const j of [0, 1]) {
      const want = Math.fround((train[i][j] - tf.normalization.shift[j]) / tf.normalization.scale[j]);
      t.equal(b.inputs[r * 2 + j], want);
    }
  });
  t.same([...tf.heldOut.gather([0]).targets], [held[0][2]]);
  const mm = indexTableFile({ ...o, normalize: 'minmax' });
  t.same(mm.normalization.shift, [Math.min(...train.map((r) => r[0])), 0]);
  t.same(mm.normalization.scale, [
    Math.max(...train.map((r) => r[0])) - Math.min(...train.map((r) => r[0])),
    7.5,
  ]);
  // The file changes after indexing: reading is an error, not other data.
  utimesSync(p, new Date(), new Date(Date.now() + 5000));
  t.throws(() => tf.train.gather([0]), { name: 'DataFileError', message: /changed after it was indexed/ });
});

t.test('JSONL: array and scalar features, JSON errors at their column, missing keys', async (t) => {
  const p = file(
    [
      '{"x": [1, 2], "z": 3, "y": 1}',
      '{"x": [4, 5], "z": 6, "y": 0}',
      '{"x": [7, 8], "z": 9, "y": 1',
      '{"x": [1], "z": 2, "y": 0}',
      '{"z": 2, "y": 0}',
      '{"x": [1, "a"], "z": 2, "y": 0}',
      '[1, 2]',
      '{"x": [0, 0], "z": 0, "y": 0}',
    ].join('\n'),
    'jsonl',
  );
  throwsAt(t, () => indexTableFile({ format: 'jsonl', path: p, target: 'y' }), `${p}:3:29`, /not valid JSON/);
  const s = indexTableFile({
    format: 'jsonl',
    path: p,
    target: 'y',
    badRows: 'skip',
    evalFraction: 0.5,
    seed: 1,
  });
  t.equal(s.skipped.count, 5);
  t.same(
    s.skipped.examples.map((m) => m.split(': ')[0]),
    [`${p}:3:29`, `${p}:4:2`, `${p}:5:1`, `${p}:6:2`, `${p}:7:1`],
  );
  t.match(s.skipped.examples[1], /key "x": expected an array of 2 numbers, got \[1\]/);
  t.match(s.skipped.examples[2], /missing key "x"/);
  t.same(s.layout.features, [
    { name: 'x', width: 2 },
    { name: 'z', width: 1 },
  ]);
  const all = [...Array(s.train.size).keys()].map((i) => s.train.gather([i]));
  const held = [...Array(s.heldOut.size).keys()].map((i) => s.heldOut.gather([i]));
  t.same(
    [...all, ...held].map((b) => [...b.inputs, b.targets[0]]).sort(),
    [
      [0, 0, 0, 0],
      [1, 2, 3, 1],
      [4, 5, 6, 0],
    ].sort(),
    'the three good rows, unnormalised',
  );
});

t.test('text corpus: split, saved vocabulary, errors at line:column, size limit', async (t) => {
  const p = file('hello\nwörld\n', 'txt');
  const c = readTextCorpus(p, { trainFraction: 0.5 });
  t.same(c.vocab.chars, ['\n', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'ö']);
  t.equal(c.trainTokens.length, 6);
  t.equal(c.decode(c.validationTokens), 'wörld\n');
  throwsAt(
    t,
    () => readTextCorpus(p, { vocab: new CharVocab('helo\nwrd') }),
    `${p}:2:2`,
    /character "ö" is not in the run's vocabulary/,
  );
  throwsAt(t, () => readTextCorpus(p, { maxBytes: 5 }), p, /13 bytes, more than the 5/);
  const bad = file(Buffer.from([0x61, 0x0a, 0x62, 0xff, 0x63]), 'txt');
  throwsAt(t, () => readTextCorpus(bad), `${bad}:2:2`, /not valid UTF-8/);
});
