/** Ctrl-C in `hessflow compare`: the table of the optimizers that finished is written, exit code 130. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { interruptHessflow, repoRoot } from '../helpers/hessflow-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'hessflow-compare-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('Ctrl-C after the first optimizer finished writes its row and exits 130', async (t) => {
  const quickstart = JSON.parse(readFileSync(join(repoRoot, 'config/quickstart.json'), 'utf8'));
  const config = join(tmp, 'small.json');
  writeFileSync(
    config,
    JSON.stringify({ ...quickstart, model: { ...quickstart.model, sizes: [784, 16, 10] }, batchSize: 32 }),
  );
  const out = join(tmp, 'cmp');
  // Ctrl-C as soon as the first optimizer has finished, well before the second one's 400 steps end.
  const steps = ['--steps', '400'];
  const r = await interruptHessflow(
    ['compare', '--optimizers', 'adamw,sgd', '-c', config, ...steps, '-o', out, '--no-progress'],
    /^adamw: final loss/m,
  );
  t.equal(r.code, 130, r.stderr);
  t.match(r.stderr, /interrupted: finishing the step in progress/);
  const report = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8'));
  const rows = report.rows as { optimizer: string }[];
  t.same(
    rows.map((x) => x.optimizer),
    ['adamw'],
    'only the optimizer that finished',
  );
  t.match(r.stdout, /adamw/);
});
