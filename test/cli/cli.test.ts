/**
 * The CLI end to end, as real spawned processes from the repository root: the default job (MNIST MLP,
 * SOAP, real data) with a tiny step budget and its run directory, and `hessian` on that run. The other
 * commands and options: cli-options.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { repoRoot as root, runHessflow } from '../helpers/hessflow-cli.js';
import { checkPng, checkSvg } from '../helpers/image-checks.js';
import { decodeCheckpoint, decodeSafetensors } from '../../src/io/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'hessflow-cli-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const hessflow = (...args: string[]) => runHessflow(args);

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
