/**
 * The CLI end to end, as real spawned processes from the repository root: the default job (MNIST MLP,
 * SOAP, real data) with a tiny step budget and its run directory; `hessian` on that run; `compare`
 * with two optimizers; and the usage errors (exit 2, the key or flag named).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { interruptHessflow } from '../helpers/hessflow-cli.js';
import { decodeCheckpoint, decodeSafetensors } from '../../src/io/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'hessflow-cli-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

function hessflowWith(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, FORCE_COLOR: '0', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const hessflow = (...args: string[]) => hessflowWith({ STEPS: '', CONFIG: '' }, ...args);

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function checkSvg(t: Test, path: string): void {
  const svg = readFileSync(path, 'utf8');
  t.match(svg, /^<svg[\s>]/, `${path} starts with an <svg> root`);
  t.match(svg, /<\/svg>\s*$/, `${path} closes its <svg> root`);
  t.match(svg, /xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  // Well-formed: every element closed in order, one <svg> root.
  const stack: string[] = [];
  let roots = 0;
  let balanced = true;
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z][\w:.-]*)(?:\s[^>]*?)?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (closing) balanced &&= stack.pop() === name;
    else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
  }
  t.ok(balanced && stack.length === 0, `${path}: every element is closed in order`);
  t.equal(roots, 1, `${path}: one root element`);
  t.match(svg, /<path[^>]* d="M[\d.-]/, `${path} draws a path`);
}

function checkPng(t: Test, path: string): void {
  const png = readFileSync(path);
  t.same([...png.subarray(0, 8)], PNG_SIGNATURE, `${path} has the PNG signature`);
  t.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  t.ok(width >= 400 && width <= 4000, `${path}: width ${width}`);
  t.ok(height >= 300 && height <= 4000, `${path}: height ${height}`);
}

const run = join(tmp, 'run');

t.test('train: the default job end to end with 20 steps', async (t) => {
  const r = hessflow('train', '--steps', '20', '--out', run, '--no-progress');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /held-out loss\s+\d\.\d+\s+accuracy \d+\.\d+%/);
  t.match(r.stdout, /run directory/);

  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
  const quickstart = JSON.parse(readFileSync(join(root, 'config/quickstart.json'), 'utf8'));
  t.same(config.model, quickstart.model);
  t.equal(config.steps, 20);

  const lines = readFileSync(join(run, 'metrics.ndjson'), 'utf8').trim().split('\n');
  t.equal(lines.length, 20);
  const metrics = lines.map((l) => JSON.parse(l));
  t.same(
    metrics.map((m) => m.step),
    Array.from({ length: 20 }, (_, i) => i),
  );
  t.ok(metrics.every((m) => Number.isFinite(m.loss) && m.skipped === false));
  t.ok(metrics[19].loss < metrics[0].loss, 'the loss went down');
  t.ok(metrics[19].eval && metrics[19].eval.accuracy > 0.3, 'evaluated on the held-out digits at the end');

  const ckpt = decodeCheckpoint(readFileSync(join(run, 'checkpoint.hfckpt')));
  t.equal(ckpt.step, 20);
  t.equal(ckpt.params.length, 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
  t.same(
    ckpt.layout.map((e) => e.shape),
    [[256, 784], [256], [256, 256], [256], [10, 256], [10]],
  );
  t.ok(Array.isArray(ckpt.optimizerState), 'optimizer state saved');
  t.same((ckpt.meta.config as { model: unknown }).model, quickstart.model);

  const st = decodeSafetensors(readFileSync(join(run, 'weights.safetensors')));
  t.same([...st.tensors.keys()].sort(), ckpt.layout.map((e) => e.name).sort());
  for (const e of ckpt.layout) t.same(st.tensors.get(e.name)!.shape, e.shape, `${e.name} shape`);
  t.equal(st.tensors.get(ckpt.layout[0].name)!.dtype, 'F32');

  checkSvg(t, join(run, 'training.svg'));
  checkPng(t, join(run, 'training.png'));
});

t.test('hessian on that run directory prints finite diagnostics', async (t) => {
  const r = hessflow(
    'hessian',
    '--checkpoint',
    run,
    '--batches',
    '1',
    '--iterations',
    '4',
    '--lanczos',
    '6',
    '--top-k',
    '2',
    '--json',
  );
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.ok(Number.isFinite(report.trace.total), `trace ${report.trace.total}`);
  t.equal(report.trace.perLayer.length, 3);
  const sum = report.trace.perLayer.reduce((s: number, g: { trace: number }) => s + g.trace, 0);
  t.ok(
    Math.abs(sum - report.trace.total) <= 1e-6 * Math.max(1, Math.abs(report.trace.total)),
    'layers sum to total',
  );
  t.equal(report.eigenvalues.values.length, 2);
  t.ok(report.eigenvalues.values.every(Number.isFinite));
  t.ok(report.eigenvalues.values[0] > 0, 'a positive top eigenvalue');
  // The default job runs SOAP, whose preconditioner is diagonal only in its eigenbases: the report says so
  // instead of a preconditioned λmax (Sophia-G's form is checked in test/cli/config.test.ts).
  t.ok(report.stability.length >= 1, 'the GD form');
  t.match(report.preconditioned, {
    unavailable: /SOAP's preconditioner is diagonal only in each tensor's rotated eigenbasis/,
  });
  t.match(report.stability[0].verdict, /stable/);
  t.ok(report.hawq.chosen.averageBits <= 4 + 1e-9, 'HAWQ respects the 4-bit budget');
  t.equal(report.lrSuggestions.length, 4);
  checkSvg(t, report.files.densitySvg);
  checkPng(t, report.files.densityPng);

  const text = hessflow(
    'hessian',
    '--checkpoint',
    run,
    '--batches',
    '1',
    '--iterations',
    '2',
    '--lanczos',
    '3',
    '--top-k',
    '1',
  );
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /Hutchinson trace\s+-?[\d.e+-]+/);
  t.match(text.stdout, /Top-1 eigenvalues \(largest first\)\s+-?[\d.e+-]+/);
  t.match(text.stdout, /HAWQ-V2/);
});

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
