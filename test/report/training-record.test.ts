import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LossEma, smooth } from '../../src/report/loss-ema.js';
import { figureSpec, yDomainWithMinSpan } from '../../src/report/plots.js';
import { CSV_COLUMNS, TrainingRecord } from '../../src/report/training-record.js';

const tmp = mkdtempSync(join(tmpdir(), 'hessflow-record-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('train loss: the bias-corrected EMA 0.9, skipping non-finite losses', async (t) => {
  const ema = new LossEma();
  t.ok(Number.isNaN(ema.value), 'nothing yet');
  t.equal(ema.add(2), 2, 'bias correction: the first value is itself');
  // m = 0.1·0.9·2 + 0.1·1 = 0.28; corrected by 1 − 0.81 = 0.19.
  t.ok(Math.abs(ema.add(1) - 0.28 / 0.19) < 1e-15);
  t.ok(Math.abs(ema.add(NaN) - 0.28 / 0.19) < 1e-15, 'a skipped step leaves it unchanged');
  const curve = smooth([2, 1, NaN]);
  t.equal(curve[0], 2);
  t.ok(Math.abs(curve[1] - 0.28 / 0.19) < 1e-15 && curve[2] === curve[1]);
  t.throws(() => new LossEma(1), /beta must be in \[0, 1\)/);
});

t.test('an accuracy axis spans at least the minimum, inside its bounds', async (t) => {
  t.same(yDomainWithMinSpan([0.95, 0.952], 0.1, [0, 1]), [0.9, 1]);
  const mid = yDomainWithMinSpan([0.5, 0.52], 0.1, [0, 1])!;
  t.ok(Math.abs(mid[0] - 0.46) < 1e-12 && Math.abs(mid[1] - 0.56) < 1e-12, `centred: ${mid}`);
  t.same(yDomainWithMinSpan([0.01], 0.1, [0, 1]), [0, 0.1]);
  t.same(yDomainWithMinSpan([0.2, 0.8], 0.1, [0, 1]), [0.2, 0.8], 'a wide range is left alone');
  t.equal(yDomainWithMinSpan([NaN], 0.1), null);
});

t.test('metrics.csv: one row per step with the smoothed loss and the schedule', async (t) => {
  const path = join(tmp, 'metrics.csv');
  const record = new TrainingRecord((step) => 0.01 * (step + 1), path);
  const base = { gradNorm: 1.5, updateNorm: 0.25, skipped: false, ms: 3 };
  record.add({ ...base, step: 0, loss: 2, winRate: 0.75 });
  record.add({ ...base, step: 1, loss: 1, eval: { loss: 1.2, accuracy: 0.6 } });
  record.add({ ...base, step: 2, loss: NaN, skipped: true, diagnostics: { lambdaMax: 42 } });
  record.addFinalEval(1, { loss: 1.2, accuracy: 0.6 }); // step 1 was evaluated: not added twice
  record.addFinalEval(2, { loss: 1.1, accuracy: 0.65 });
  record.close();
  const rows = readFileSync(path, 'utf8').trim().split('\n');
  t.equal(rows[0], CSV_COLUMNS.join(','));
  t.same(rows[1].split(','), ['0', '2', '2', '0.01', '1.5', '0.25', '0', '0.75', '', '', '', '', '3']);
  const r2 = rows[2].split(',');
  t.ok(Math.abs(Number(r2[2]) - 0.28 / 0.19) < 1e-15, 'train_loss_ema');
  t.same([r2[8], r2[9]], ['1.2', '0.6']);
  const r3 = rows[3].split(',');
  t.same([r3[1], r3[6], r3[10]], ['', '1', '42'], 'a NaN loss is an empty cell; skipped = 1; λmax');
  t.equal(rows.length, 4);
  t.equal(record.trainLoss, Number(r2[2]), 'the summary reads the same EMA');
  t.same(
    record.evalLoss.map((p) => p.x),
    [2, 3],
    'the final evaluation (after Ctrl-C too) is on the plot once',
  );
  const titles = record.panels({ steps: 3, languageModel: false }).map((p) => p.title);
  t.match(titles[0], /EMA 0\.9/);
  t.ok(titles.some((x) => /Win-rate/.test(x)));
  t.ok(titles.some((x) => /Hessian diagnostics/.test(x)));
  t.ok(titles.some((x) => /Learning rate/.test(x)));
});

t.test('no win-rate or diagnostics panel for a run without them', async (t) => {
  const record = new TrainingRecord(() => 1e-3);
  record.add({ step: 0, loss: 1, gradNorm: 1, updateNorm: 1, skipped: false, ms: 1 });
  t.equal(record.panels({ steps: 1, languageModel: true }).length, 3);
});

t.test('the figure spec gives every series its own dash and an explicit accuracy domain', async (t) => {
  const spec = figureSpec([
    {
      title: 'a',
      xTitle: 'x',
      yTitle: 'y',
      series: [
        { name: 'one', points: [{ x: 1, y: 0.95 }] },
        { name: 'two', points: [{ x: 1, y: 0.951 }], dash: [7, 3] },
        { name: 'empty', points: [] },
      ],
      yMinSpan: 0.1,
      yBounds: [0, 1],
    },
  ]);
  const group = (spec.marks as { scales: { name: string; domain: unknown; range: unknown }[] }[])[0];
  const dash = group.scales.find((s) => s.name === 'dash')!;
  t.same(dash.domain, ['one', 'two'], 'series without points are left out');
  t.same(dash.range, [
    [1, 0],
    [7, 3],
  ]);
  t.same(group.scales.find((s) => s.name === 'y')!.domain, [0.9, 1]);
});
