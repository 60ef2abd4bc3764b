/** BENCHMARKS.md rendering: tables laid out as Prettier would, and a hand-kept reading after its results. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadReadings, renderReport } from '../../bench/report.js';
import { RESULTS_SCHEMA, type Results } from '../../bench/lib/types.js';

const results = (name: string): Results => ({
  schema: RESULTS_SCHEMA,
  name,
  suites: ['s'],
  machine: {
    cpu: 'cpu',
    cores: 2,
    memoryGiB: 1,
    node: 'v20',
    v8: '11',
    platform: 'linux',
    date: '2026-11-29T00:00:00Z',
    load: [1, 2],
  },
  sections: [
    {
      id: 'x',
      title: `${name} table`,
      columns: [
        { key: 'a', label: 'name' },
        { key: 'b', label: 'value', digits: 1 },
      ],
      rows: [{ a: 'one', b: 1.24 }],
    },
  ],
});

t.test('a reading follows its own results, after the tables; results without one have none', async (t) => {
  const text = renderReport(
    [results('first'), results('second')],
    new Map([['first', '### Reading\n\nWhy.']]),
  );
  const first = text.indexOf('## first');
  const reading = text.indexOf('### Reading');
  const second = text.indexOf('## second');
  t.ok(
    first >= 0 && reading > text.indexOf('first table') && reading < second,
    'between its tables and the next file',
  );
  t.equal(text.split('### Reading').length, 2, 'once');
  t.ok(text.includes('| one  |   1.2 |'), 'cells padded and right-aligned, digits as the column says');
});

t.test('loadReadings: one per .md file, named by the file; a missing folder is no readings', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'readings-'));
  writeFileSync(join(dir, 'sweep-x.md'), '\nText.\n\n');
  writeFileSync(join(dir, 'notes.txt'), 'ignored');
  t.same([...loadReadings(dir)], [['sweep-x', 'Text.']]);
  t.same([...loadReadings(join(dir, 'absent'))], []);
});
