/**
 * README's "Your own data" library example (examples/async-iterable.ts, type-checked with the project
 * under --strict): README shows exactly this file (importing from 'hessflow'), and it trains: the MLP it
 * returns classifies the blobs it was trained on.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { trainFromCsv } from '../../examples/async-iterable.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { rng } from '../../src/random/counter-rng.js';
import { evaluate } from '../../src/train/evaluate.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

t.test('README holds the example as it is in examples/', async (t) => {
  const example = readFileSync(join(root, 'examples', 'async-iterable.ts'), 'utf8').replace(
    "from '../src/index.js'",
    "from 'hessflow'",
  );
  t.ok(readFileSync(join(root, 'README.md'), 'utf8').includes(`\`\`\`ts\n${example}\`\`\``));
});

t.test('the example trains from an async iterable', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'hessflow-example-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const x: number[] = [];
  const y: number[] = [];
  let csv = 'x1,x2,label\n';
  for (let i = 0; i < 320; i++) {
    const c = i % 3;
    const row = [c * 2 + 0.4 * rng(6, 'a', i).normal(), (c % 2) * 2 + 0.4 * rng(6, 'b', i).normal()];
    x.push(...row);
    y.push(c);
    csv += `${row.join(',')},${c}\n`;
  }
  writeFileSync(join(tmp, 'd.csv'), csv);
  const params = await trainFromCsv(join(tmp, 'd.csv'));
  const model = buildModel({ kind: 'mlp', sizes: [2, 16, 3] });
  const r = evaluate(model, params, [
    { inputs: Float32Array.from(x), inputShape: [320, 2], targets: Int32Array.from(y), targetShape: [320] },
  ]);
  t.ok(r.accuracy > 0.9, `accuracy ${r.accuracy} after 30 steps`);
});
