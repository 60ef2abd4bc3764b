/**
 * A user's own data through the real CLI (spawned processes): a CSV with a bad row trained with
 * badRows "skip"; `--resume` continuing it bit for bit against one uninterrupted run, and refusing
 * another optimizer; `-o` onto an existing run asking for `--force`; `predict` on new rows; a bad row
 * without skipping as a file:line:column error; early stopping; a text corpus trained, then `sample`
 * (greedy twice: the same text), with its vocabulary saved.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runHessflow } from '../helpers/hessflow-cli.js';
import { rng } from '../../src/random/counter-rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'hessflow-userdata-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const hessflow = (...args: string[]) => runHessflow(args, {}, 180_000);

// Three classes in two informative features and a noise column; line 5 holds a bad value.
let csv = 'x1,x2,noise,label\n';
for (let i = 0; i < 400; i++) {
  const c = i % 3;
  const row = [
    c * 2 + 0.6 * rng(1, 'a', i).normal(),
    (c % 2) * 3 + 0.6 * rng(1, 'b', i).normal(),
    100 + 10 * rng(1, 'n', i).normal(),
  ];
  csv += i === 3 ? `${row[0]},n/a,${row[2]},${c}\n` : `${row.map((v) => v.toFixed(4)).join(',')},${c}\n`;
}
writeFileSync(join(tmp, 'blobs.csv'), csv);
const base = {
  model: { kind: 'mlp', sizes: [3, 16, 3] },
  optimizer: { name: 'adamw', lr: 0.01 },
  // Relative to the config file's folder.
  data: { name: 'csv', path: 'blobs.csv', target: 'label', normalize: 'standard', badRows: 'skip' },
  batchSize: 32,
  steps: 40,
  evalEvery: 10,
  seed: 2,
};
const cfg = (name: string, c: unknown) => {
  const p = join(tmp, `${name}.json`);
  writeFileSync(p, JSON.stringify(c));
  return p;
};
const csvConfig = cfg('blobs', base);
const summaryOf = (out: string) =>
  JSON.parse(out) as {
    steps: number;
    skippedRows?: number;
    resumedFrom?: number;
    stoppedEarly?: boolean;
    best?: { loss: number; step: number };
    heldOut: { accuracy: number };
  };

t.test('CSV: train, resume bit for bit, refuse another optimizer, --force, predict', async (t) => {
  const a = join(tmp, 'a');
  const b = join(tmp, 'b');
  let r = hessflow('train', '-c', csvConfig, '-o', a, '--json', '-w', '1');
  t.equal(r.code, 0, r.stderr);
  let s = summaryOf(r.stdout);
  t.equal(s.steps, 40);
  t.equal(s.skippedRows, 1, 'the bad row was skipped and counted');
  t.ok(s.heldOut.accuracy > 0.8, `held-out accuracy ${s.heldOut.accuracy}`);
  t.ok(existsSync(join(a, 'best', 'checkpoint.hfckpt')) && existsSync(join(a, 'data.json')));
  const data = JSON.parse(readFileSync(join(a, 'data.json'), 'utf8')) as {
    skipped: { count: number; examples: string[] };
  };
  t.match(data.skipped.examples[0], /blobs\.csv:5:\d+: column "x2": "n\/a" is not a finite number/);

  r = hessflow('train', '--resume', a, '--steps', '80', '--json', '-w', '1');
  t.equal(r.code, 0, r.stderr);
  s = summaryOf(r.stdout);
  t.equal(s.resumedFrom, 40);
  t.equal(s.steps, 80);
  r = hessflow('train', '-c', csvConfig, '-s', '80', '-o', b, '--json', '-w', '1');
  t.equal(r.code, 0, r.stderr);
  t.ok(
    readFileSync(join(a, 'weights.safetensors')).equals(readFileSync(join(b, 'weights.safetensors'))),
    '40 + 40 steps = 80 steps, bit for bit',
  );
  const losses = (dir: string) =>
    readFileSync(join(dir, 'metrics.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; loss: number })
      .map((m) => [m.step, m.loss]);
  t.same(losses(a), losses(b), 'metrics: one line per step, the same losses');

  r = hessflow(
    'train',
    '--resume',
    a,
    '-c',
    cfg('other', { ...base, optimizer: { name: 'lion', lr: 0.001 } }),
  );
  t.equal(r.code, 2);
  t.match(
    r.stderr,
    /different optimizer .*lion.* than the run .*adamw.*; a run continues only with the same optimizer/,
  );
  r = hessflow('train', '--resume', a, '--steps', '10');
  t.equal(r.code, 2);
  t.match(r.stderr, /the run is at step 80; --steps 10 would go back/);

  r = hessflow('train', '-c', csvConfig, '-o', a, '-s', '5');
  t.equal(r.code, 2);
  t.match(r.stderr, /already holds a run; continue it with --resume .*, or replace it with --force/);
  t.ok(
    readFileSync(join(a, 'weights.safetensors')).equals(readFileSync(join(b, 'weights.safetensors'))),
    'nothing was overwritten',
  );

  // New rows without the label column; then the training file itself (labelled) as CSV → JSONL.
  writeFileSync(join(tmp, 'new.csv'), 'noise,x2,x1\n100,0.1,0.05\n99,3.05,2.1\n101,0.02,4.2\n');
  r = hessflow('predict', a, '-i', join(tmp, 'new.csv'));
  t.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines[0], 'line,prediction,p0,p1,p2');
  t.same(
    lines.slice(1).map((l) => l.split(',').slice(0, 2).join(',')),
    ['2,0', '3,1', '4,2'],
    'the blobs the rows sit in',
  );
  for (const l of lines.slice(1)) {
    const p = l.split(',').slice(2).map(Number);
    t.ok(Math.abs(p.reduce((x, y) => x + y, 0) - 1) < 1e-5, 'probabilities sum to 1');
  }
  r = hessflow(
    'predict',
    a,
    '-i',
    join(tmp, 'blobs.csv'),
    '--format',
    'csv',
    '--skip-bad-rows',
    '-o',
    join(tmp, 'p.csv'),
  );
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /399 rows, 1 bad rows skipped; accuracy 9\d\.\d\d% on the 399 labelled/);

  r = hessflow('train', '-c', csvConfig, '-o', a, '-s', '5', '--force', '--json');
  t.equal(r.code, 0, r.stderr);
  t.equal(summaryOf(r.stdout).steps, 5, '--force replaced the run');
  t.equal(readFileSync(join(a, 'metrics.ndjson'), 'utf8').trim().split('\n').length, 5);
});

t.test('--engine trainer: 25 steps, then --resume to 50, equals 50 in one go', async (t) => {
  const [c, d] = [join(tmp, 'tr-c'), join(tmp, 'tr-d')];
  let r = hessflow('train', '-c', csvConfig, '-s', '25', '-o', c, '--engine', 'trainer', '--json');
  t.equal(r.code, 0, r.stderr);
  r = hessflow('train', '--resume', c, '-s', '50', '--engine', 'trainer', '--json');
  t.equal(r.code, 0, r.stderr);
  t.equal(summaryOf(r.stdout).resumedFrom, 25);
  r = hessflow('train', '-c', csvConfig, '-s', '50', '-o', d, '--engine', 'trainer', '--json');
  t.equal(r.code, 0, r.stderr);
  t.ok(
    readFileSync(join(c, 'weights.safetensors')).equals(readFileSync(join(d, 'weights.safetensors'))),
    'bit for bit',
  );
  // step, loss, its EMA, lr, norms, skipped: the training columns (the 25-step run also evaluated at its
  // end, and ms is a timing).
  const csvRows = (dir: string) =>
    readFileSync(join(dir, 'metrics.csv'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(',').slice(0, 7).join(','));
  t.equal(csvRows(c).length, 51, 'metrics.csv: the header and every step, those before the resume too');
  t.same(csvRows(c), csvRows(d), 'the same rows as the run in one go');
});

t.test('a bad row without skipping: file:line:column, exit 2, no run written', async (t) => {
  const c = cfg('strict', { ...base, data: { ...base.data, badRows: 'error' } });
  const out = join(tmp, 'strict');
  const r = hessflow('train', '-c', c, '-o', out);
  t.equal(r.code, 2);
  t.match(r.stderr, /^hessflow: .*blobs\.csv:5:\d+: column "x2": "n\/a" is not a finite number\n$/);
  t.notOk(existsSync(join(out, 'config.json')));
  const wrong = hessflow('train', '-c', cfg('wrong', { ...base, model: { kind: 'mlp', sizes: [4, 3] } }));
  t.equal(wrong.code, 2);
  t.match(wrong.stderr, /config: model\.sizes\[0\]: must be 3 \(the features of .*blobs\.csv\), got 4/);
});

t.test('early stopping ends the run after `patience` evaluations without improvement', async (t) => {
  // minDelta above any loss: only the first evaluation counts as an improvement.
  const c = cfg('early', { ...base, steps: 100, earlyStopping: { patience: 2, minDelta: 100 } });
  const r = hessflow('train', '-c', c, '-o', join(tmp, 'early'), '--json', '-w', '1');
  t.equal(r.code, 0, r.stderr);
  const s = summaryOf(r.stdout);
  t.equal(s.steps, 30, 'best at step 10, then 20 and 30 without improvement');
  t.equal(s.stoppedEarly, true);
  t.same(s.best?.step, 10);
});

t.test('a text corpus: train, vocabulary saved, sample from the run', async (t) => {
  const words = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'und', 'größe'];
  const text = Array.from({ length: 200 }, (_, i) =>
    Array.from({ length: 10 }, (_, j) => words[rng(4, 'w', i, j).int(words.length)]).join(' '),
  ).join('\n');
  writeFileSync(join(tmp, 'corpus.txt'), text);
  const c = cfg('text', {
    model: { kind: 'gpt', blockSize: 16, nLayer: 1, nHead: 2, nEmbd: 16 },
    optimizer: { name: 'adamw', lr: 0.01 },
    data: { name: 'text', path: 'corpus.txt', evalSize: 2 },
    batchSize: 8,
    steps: 20,
    evalEvery: 10,
    seed: 3,
  });
  const run = join(tmp, 'text');
  let r = hessflow('train', '-c', c, '-o', run, '--json', '-w', '1');
  t.equal(r.code, 0, r.stderr);
  const vocab = JSON.parse(readFileSync(join(run, 'vocab.json'), 'utf8')) as { chars: string[] };
  t.same(
    vocab.chars,
    [...new Set(text)].sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!),
  );
  r = hessflow('sample', run, '-p', 'the größe', '-n', '25', '-t', '0');
  t.equal(r.code, 0, r.stderr);
  t.ok(r.stdout.startsWith('the größe'), 'the prompt, then the text');
  t.equal(r.stdout.length, 'the größe'.length + 25 + 1);
  t.ok([...r.stdout.trimEnd()].every((ch) => vocab.chars.includes(ch)));
  t.equal(
    hessflow('sample', run, '-p', 'the größe', '-n', '25', '-t', '0').stdout,
    r.stdout,
    'greedy: the same text',
  );
  r = hessflow('sample', join(tmp, 'early'));
  t.equal(r.code, 2);
  t.match(r.stderr, /sample needs a language model/);
  r = hessflow('predict', run, '-i', join(tmp, 'new.csv'));
  t.equal(r.code, 2);
  t.match(r.stderr, /predict needs a run trained on a CSV or JSONL file/);
});
