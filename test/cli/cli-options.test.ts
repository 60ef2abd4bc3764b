/**
 * The CLI's options end to end, as real spawned processes from the repository root: periodic
 * diagnostics, shards and workers, Ctrl-C, `compare` with two optimizers, and the usage errors (exit 2,
 * the key or flag named). Split from cli.test.ts so each file stays well inside tap's time limit.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { interruptHessflow, repoRoot as root, runHessflow } from '../helpers/hessflow-cli.js';
import { checkPng, checkSvg } from '../helpers/image-checks.js';
import { decodeCheckpoint } from '../../src/io/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'hessflow-cli-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const hessflowWith = (env: Record<string, string>, ...args: string[]) => runHessflow(args, env);
const hessflow = (...args: string[]) => runHessflow(args);

t.test('train with periodic diagnostics and one worker writes them into the metrics', async (t) => {
  const quickstart = JSON.parse(readFileSync(join(root, 'config/quickstart.json'), 'utf8'));
  const file = join(tmp, 'diagnosed.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...quickstart,
      model: { ...quickstart.model, sizes: [784, 32, 10] },
      batchSize: 32,
      evalEvery: 3,
      diagnostics: { every: 3, batches: 1, maxIter: 6 },
    }),
  );
  const out = join(tmp, 'diagnosed');
  const r = hessflow('train', '--config', file, '--steps', '6', '--workers', '1', '--out', out, '--json');
  t.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  t.equal(summary.steps, 6);
  t.equal(summary.diagnostics.step, 5, 'the summary carries the last diagnostics');
  const metrics = readFileSync(join(out, 'metrics.ndjson'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.same(
    metrics.filter((m) => m.diagnostics).map((m) => m.diagnostics.step),
    [2, 5],
  );
  for (const m of metrics.filter((x) => x.diagnostics)) {
    t.ok(m.diagnostics.lambdaMax > 0, `λmax ${m.diagnostics.lambdaMax}`);
    t.ok(Number.isFinite(m.diagnostics.trace), `trace ${m.diagnostics.trace}`);
    t.ok(m.eval, 'evaluated on the same step');
  }
});

t.test('train --shards fixes the result; --workers never changes it', async (t) => {
  const quickstart = JSON.parse(readFileSync(join(root, 'config/quickstart.json'), 'utf8'));
  const file = join(tmp, 'sharded.json');
  writeFileSync(
    file,
    JSON.stringify({ ...quickstart, model: { ...quickstart.model, sizes: [784, 16, 10] }, batchSize: 24 }),
  );
  const losses = (shards: string, workers: string): number[] => {
    const out = join(tmp, `sharded-${shards}-${workers}`);
    const r = hessflow(
      'train',
      '-c',
      file,
      '-s',
      '4',
      '--shards',
      shards,
      '-w',
      workers,
      '-o',
      out,
      '--json',
    );
    t.equal(r.code, 0, r.stderr);
    return readFileSync(join(out, 'metrics.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { loss?: number })
      .filter((m) => m.loss !== undefined)
      .map((m) => m.loss!);
  };
  const one = losses('1', '1');
  t.equal(one.length, 4);
  t.same(losses('1', '2'), one, 'one shard: the same losses on 1 and 2 workers, bit for bit');
  t.notSame(losses('3', '1'), one, 'three shards sum the gradient in another order');
});

t.test('Ctrl-C stops train after the step in progress and writes what it reached', async (t) => {
  const quickstart = JSON.parse(readFileSync(join(root, 'config/quickstart.json'), 'utf8'));
  const file = join(tmp, 'long.json');
  writeFileSync(
    file,
    JSON.stringify({ ...quickstart, model: { ...quickstart.model, sizes: [784, 16, 10] }, evalEvery: 2 }),
  );
  const out = join(tmp, 'interrupted');
  // Interrupt once the run is visibly training (an evaluation line).
  const { code, stdout, stderr } = await interruptHessflow(
    ['train', '--config', file, '--out', out, '--no-progress'],
    /step\s+4\//,
  );
  t.equal(code, 130, stderr);
  t.match(stderr, /interrupted: finishing the step in progress/);
  t.match(stdout, /steps \(interrupted\)/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  t.equal(summary.interrupted, true);
  t.ok(summary.steps >= 4 && summary.steps < 1000, `stopped at ${summary.steps}`);
  const ckpt = decodeCheckpoint(readFileSync(join(out, 'checkpoint.hfckpt')));
  t.equal(ckpt.step, summary.steps, 'the checkpoint holds the last step reached');
  const lines = readFileSync(join(out, 'metrics.ndjson'), 'utf8').trim().split('\n');
  t.equal(lines.length, summary.steps, 'one metrics line per step reached');
});

t.test('compare with two optimizers and a few steps', async (t) => {
  const out = join(tmp, 'compare');
  const r = hessflow(
    'compare',
    '--optimizers',
    'adamw,sophia-g',
    '--steps',
    '6',
    '--out',
    out,
    '--json',
    '--no-progress',
  );
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.same(
    report.rows.map((row: { optimizer: string }) => row.optimizer),
    ['adamw', 'sophia-g'],
  );
  for (const row of report.rows) {
    t.ok(Number.isFinite(row.finalLoss) && row.finalLoss > 0, `${row.optimizer} final loss`);
    t.ok(row.seconds > 0);
    t.ok(row.stepsToTarget >= 1 && row.stepsToTarget <= 6, 'the default target is reached by all');
  }
  t.match(readFileSync(join(out, 'comparison.md'), 'utf8'), /\| adamw \|/);
  t.equal(readFileSync(join(out, 'metrics-sophia-g.ndjson'), 'utf8').trim().split('\n').length, 6);
  checkSvg(t, join(out, 'comparison.svg'));
  checkPng(t, join(out, 'comparison.png'));
});

t.test('usage errors exit with 2 and name the key or flag', async (t) => {
  const unknownKey = join(tmp, 'unknown-key.json');
  const quickstart = JSON.parse(readFileSync(join(root, 'config/quickstart.json'), 'utf8'));
  writeFileSync(unknownKey, JSON.stringify({ ...quickstart, optimiser: { name: 'adamw' } }));
  let r = hessflow('train', '--config', unknownKey, '--out', join(tmp, 'x'));
  t.equal(r.code, 2);
  t.match(r.stderr, /optimiser: unknown key/);

  const badType = join(tmp, 'bad-type.json');
  writeFileSync(badType, JSON.stringify({ ...quickstart, batchSize: '128' }));
  r = hessflow('train', '--config', badType, '--out', join(tmp, 'x'));
  t.equal(r.code, 2);
  t.match(r.stderr, /batchSize: must be a finite number, got the string "128"/);

  const badNested = join(tmp, 'bad-nested.json');
  writeFileSync(badNested, JSON.stringify({ ...quickstart, optimizer: { ...quickstart.optimizer, lr: -1 } }));
  r = hessflow('train', '--config', badNested, '--out', join(tmp, 'x'));
  t.equal(r.code, 2);
  t.match(r.stderr, /optimizer\.lr: must be > 0/);

  const noEvery = join(tmp, 'no-every.json');
  writeFileSync(noEvery, JSON.stringify({ ...quickstart, diagnostics: { trace: true } }));
  r = hessflow('train', '--config', noEvery, '--out', join(tmp, 'x'));
  t.equal(r.code, 2);
  t.match(r.stderr, /diagnostics\.every: (is required|must be .*got nothing)/);

  r = hessflow('train', '--workers', '0');
  t.equal(r.code, 2);
  t.match(r.stderr, /--workers.*must be a positive integer/);

  r = hessflow('train', '--shards', '1.5');
  t.equal(r.code, 2);
  t.match(r.stderr, /--shards.*must be a positive integer/);

  r = hessflow('train', '--stepz', '3');
  t.equal(r.code, 2);
  t.match(r.stderr, /unknown option '--stepz'/);

  r = hessflow('train', '--steps', 'many');
  t.equal(r.code, 2);
  t.match(r.stderr, /--steps.*must be a positive integer/);

  r = hessflowWith({ STEPS: 'lots' }, 'train', '--out', join(tmp, 'x'));
  t.equal(r.code, 2);
  t.match(r.stderr, /STEPS=lots: must be a positive integer/);

  r = hessflow('compare', '--optimizers', 'adamw,newton');
  t.equal(r.code, 2);
  t.match(r.stderr, /unknown optimizer "newton"/);

  r = hessflow('frobnicate');
  t.equal(r.code, 2);
  t.match(r.stderr, /unknown command 'frobnicate'/);

  r = hessflow('hessian', '--checkpoint', join(tmp, 'nowhere'));
  t.equal(r.code, 2);
  t.match(r.stderr, /does not exist/);

  r = hessflow('--help');
  t.equal(r.code, 0);
  t.match(r.stdout, /train.*\n.*compare.*\n.*hessian/s);
  r = hessflow('train', '--help');
  t.equal(r.code, 0);
  t.match(r.stdout, /--no-progress/);
  r = hessflow('--version');
  t.equal(r.code, 0);
  t.equal(r.stdout.trim(), JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
});
