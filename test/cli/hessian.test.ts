/**
 * `hessflow hessian` as a user runs it: the batch-size suggestions scale the schedule's peak rate, the
 * eigenvalues come sorted with their converged flags, and Ctrl-C mid-stage writes the report of what
 * was computed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { interruptHessflow, repoRoot as root, runHessflow } from '../helpers/hessflow-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'hessflow-hessian-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const hessflow = (...args: string[]) => runHessflow(args);

// A small MLP trained 6 steps with warm-up and cosine decay: the last step's rate is below the peak.
const quickstart = JSON.parse(readFileSync(join(root, 'config/quickstart.json'), 'utf8'));
const peak = 0.004;
const config = {
  ...quickstart,
  model: { ...quickstart.model, sizes: [784, 16, 10] },
  optimizer: { name: 'adamw', lr: peak, weightDecay: 0 },
  schedule: { warmupSteps: 2, endValue: 0.0004 },
  batchSize: 64,
  steps: 6,
  evalEvery: 6,
};
const configFile = join(tmp, 'small.json');
writeFileSync(configFile, JSON.stringify(config));
const run = join(tmp, 'run');

t.before(() => {
  const r = hessflow('train', '--config', configFile, '--out', run, '--json', '--no-progress');
  if (r.code !== 0) throw new Error(`training the fixture run failed: ${r.stderr}`);
});

t.test('suggestions scale the peak rate; eigenvalues sorted with their flags', async (t) => {
  const r = hessflow(
    ...['hessian', '--checkpoint', run, '--batches', '1', '--iterations', '30', '--lanczos', '5'],
    ...['--top-k', '3', '--json', '--out', join(tmp, 'h1')],
  );
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  t.ok(report.lr < peak, `the stability ratios use the decayed rate of the last step (${report.lr})`);
  t.equal(report.lrBasis.lr, peak, "the batch-size rule starts from the schedule's peak rate");
  t.equal(report.lrBasis.batchSize, 64);
  t.equal(report.lrBasis.rule, 'sqrt', 'AdamW is adaptive: square-root rule');
  t.same(
    report.lrSuggestions.map((s: { batchSize: number }) => s.batchSize),
    [16, 32, 128, 256],
  );
  for (const s of report.lrSuggestions)
    t.ok(Math.abs(s.lr - peak * Math.sqrt(s.batchSize / 64)) < 1e-15, `batch ${s.batchSize}: ${s.lr}`);
  const { values, converged, iterations } = report.eigenvalues;
  t.equal(values.length, 3);
  t.equal(converged.length, 3);
  t.equal(iterations.length, 3);
  for (let i = 1; i < values.length; i++) t.ok(values[i - 1] >= values[i], `sorted: ${values}`);
  t.equal(report.interrupted, undefined);
  for (const l of report.hawq.layers)
    t.equal(l.pinned, l.trace < 0, `${l.name}: pinned iff its trace is negative`);
});

t.test('Ctrl-C during a stage writes the report of what was computed', async (t) => {
  const out = join(tmp, 'h2');
  // A tolerance of 1e-300 never converges: the trace stage would take a million HVPs.
  const args = [
    'hessian',
    '--checkpoint',
    run,
    '--batches',
    '1',
    '--iterations',
    '1000000',
    '--tol',
    '1e-300',
  ];
  const { code, stdout, stderr } = await interruptHessflow(
    [...args, '--out', out],
    /Hessian of the mean loss/,
    1500,
  );
  t.equal(code, 130, stderr);
  t.match(stderr, /interrupted: stopping after the HVP in progress/);
  t.match(stdout, /Interrupted during trace/);
  t.match(stdout, /Top-3 eigenvalues\s+not computed/);
  const report = JSON.parse(readFileSync(join(out, 'hessian.json'), 'utf8'));
  t.same(report.interrupted, { stage: 'trace', completed: [] });
  t.equal(report.trace.converged, false);
  t.ok(report.trace.probes >= 1 && report.trace.probes < 1_000_000, `${report.trace.probes} probes`);
  t.ok(Number.isFinite(report.trace.total));
  const sum = report.trace.perLayer.reduce((s: number, g: { trace: number }) => s + g.trace, 0);
  t.ok(Math.abs(sum - report.trace.total) <= 1e-9 * Math.max(1, Math.abs(report.trace.total)), 'layers sum');
  t.equal(report.eigenvalues, null);
  t.equal(report.density, null);
  t.same(report.stability, []);
  t.equal(report.files.densityPng, null);
  t.ok(report.hawq.chosen, 'HAWQ from the partial traces');
});
