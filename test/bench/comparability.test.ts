/**
 * Bench integrity (issue #23): the comparability rule of a PyTorch reference row, its use on rows recorded
 * before the checks, and the reference process's report (sgemm median, BLAS, load average, the OpenBLAS
 * variables unset), the last against a stand-in torch so it runs where torch is not installed.
 */
import { join } from 'node:path';
import t from 'tap';
import {
  MAX_START_LOAD,
  MIN_SGEMM_GFLOPS,
  comparability,
  comparableCell,
  reviewReferenceRows,
} from '../../bench/lib/comparability.js';
import { pytorchRounds, referenceCells, referenceNote } from '../../bench/lib/pytorch-reference.js';
import type { Section } from '../../bench/lib/types.js';

t.test('the rule: sgemm ≥ 45 GFLOP/s and start load ≤ 0.5, both recorded', async (t) => {
  t.equal(MIN_SGEMM_GFLOPS, 45);
  t.equal(MAX_START_LOAD, 0.5);
  t.same(comparability({ sgemmGflops: 62, loadStart: 0.1 }), { comparable: true });
  t.same(
    comparability({ sgemmGflops: 45, loadStart: 0.5 }),
    { comparable: true },
    'the bounds are comparable',
  );
  const slow = comparability({ sgemmGflops: 29, loadStart: 0.2 });
  t.equal(slow.comparable, false);
  t.match(comparableCell(slow), /^NO: reference sgemm 29 GFLOP\/s < 45$/);
  const loaded = comparability({ sgemmGflops: 80, loadStart: 1.3 });
  t.match(comparableCell(loaded), /^NO: load average 1\.30 at start > 0\.5$/);
  const both = comparability({ sgemmGflops: 13, loadStart: 13 });
  t.equal(both.comparable ? 0 : both.reasons.length, 2, 'both reasons given');
  const unknown = comparability({ sgemmGflops: null, loadStart: null });
  t.same(unknown.comparable ? [] : unknown.reasons, [
    'reference sgemm not recorded',
    'load average at start not recorded',
  ]);
  t.equal(comparability({ sgemmGflops: NaN, loadStart: 0 }).comparable, false);
});

const oldGptSection: Section = {
  id: 'gpt-step',
  title: 'Reference char-GPT',
  columns: [
    { key: 'optimizer', label: 'optimizer' },
    { key: 'ms', label: 'ms/step', digits: 1 },
    { key: 'vsAdamW', label: '÷ AdamW', digits: 2 },
  ],
  rows: [
    { optimizer: 'AdamW', ms: 113.9, vsAdamW: 1 },
    { optimizer: 'AdamW in PyTorch 1.13.0a0 (1 thread, run here)', ms: 119.5, vsAdamW: 1.05 },
  ],
  notes: [
    "PyTorch: bench/reference/gpt_step.py (one thread; sgemm 13 GFLOP/s there); median of 15. hessflow's AdamW step ÷ PyTorch's, the median of the ratios within each round: wall 0.93, CPU 0.94.",
  ],
};

t.test('the report marks reference rows recorded before the checks not comparable', async (t) => {
  const s = reviewReferenceRows(oldGptSection);
  t.same(s.rows[0], oldGptSection.rows[0], "hessflow's rows unchanged");
  t.equal(s.rows[1].vsAdamW, null, 'the ratio cell is withdrawn');
  t.equal(s.rows[1].comparable, 'NO: reference sgemm 13 GFLOP/s < 45; load average at start not recorded');
  t.ok(s.columns.some((c) => c.key === 'comparable'));
  t.match(
    s.notes![0],
    /~~hessflow's AdamW step ÷ PyTorch's.*wall 0\.93, CPU 0\.94\.~~ \(withdrawn: not comparable\)/,
  );
  t.match(s.notes!.at(-1)!, /1\.44–1\.57/, 'says what the quiet machine measured');
  // Rows recorded with the checks, and the MLP suite's "not run here" figure, are left alone.
  const checked: Section = {
    ...oldGptSection,
    rows: [{ ...oldGptSection.rows[1], comparable: 'yes' }],
  };
  t.equal(reviewReferenceRows(checked), checked);
  const notRun: Section = {
    ...oldGptSection,
    rows: [{ optimizer: 'PyTorch 1.13 (reference, not run here)', ms: 4.9 }],
  };
  t.equal(reviewReferenceRows(notRun), notRun);
});

t.test('the reference process: OpenBLAS variables unset, sgemm median, BLAS and load recorded', async (t) => {
  const saved = { ...process.env };
  t.teardown(() => {
    for (const k of ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'PYTHONPATH', 'HESSFLOW_PYTHON']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  process.env.OPENBLAS_CORETYPE = 'Prescott';
  process.env.OPENBLAS_L2_SIZE = '262144';
  process.env.PYTHONPATH = join(import.meta.dirname, 'fixtures', 'fake-torch');
  // Named from bench/reference/, where the bench's own scripts live.
  const rounds = pytorchRounds('../../test/bench/fixtures/fake_step.py', 2);
  t.ok(rounds.stepper, 'the stand-in torch starts');
  for (let i = 0; i < 3; i++) rounds.stepper!();
  const r = rounds.finish(1);
  if ('missing' in r) throw new Error(r.missing);
  t.equal(r.rounds, 2);
  t.same(r.unsetEnv, ['OPENBLAS_CORETYPE=Prescott', 'OPENBLAS_L2_SIZE=262144'], 'both removed and said so');
  t.ok(r.sgemmGflops > 0 && Number.isFinite(r.sgemmGflops), `sgemm before ${r.sgemmGflops}`);
  t.ok(r.sgemmEndGflops > 0 && Number.isFinite(r.sgemmEndGflops), `sgemm after ${r.sgemmEndGflops}`);
  t.ok(Number.isFinite(r.loadStart) && Number.isFinite(r.loadEnd), 'load average at both ends');
  t.same(
    r.check,
    comparability({ sgemmGflops: Math.min(r.sgemmGflops, r.sgemmEndGflops), loadStart: r.loadStart }),
  );
  t.equal(r.torch, '0.0-fake');
  const cells = referenceCells(r);
  t.equal(cells.loadStart, r.loadStart);
  t.equal(cells.comparable, comparableCell(r.check));
  t.match(
    referenceNote(r),
    /removed from its environment: OPENBLAS_CORETYPE=Prescott, OPENBLAS_L2_SIZE=262144/,
  );
  t.match(referenceNote(r), /median of 21/);
});
