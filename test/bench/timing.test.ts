/** The benchmark's summary statistics: medians, and the within-round ratio used against PyTorch. */
import t from 'tap';
import { interleave, median, pairedRatio } from '../../bench/lib/timing.js';

t.test('median of odd and even counts, empty is NaN', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
});

t.test('pairedRatio is the median of the per-round ratios, not the ratio of the medians', async (t) => {
  // A machine that slows down over the run: both sides slow alike, the ratio within a round stays 0.9.
  const b = [100, 150, 200, 300, 400];
  const a = b.map((x) => 0.9 * x);
  t.equal(pairedRatio(a, b), 0.9);
  // Rounds where the sides are out of step: per-round ratios 0.5, 1, 2 → median 1.
  t.equal(pairedRatio([50, 100, 200], [100, 100, 100]), 1);
  // The ratio of medians would be 100/100 = 1 here too; this case tells them apart: 2/1, 1/2, 3/3.
  t.equal(pairedRatio([2, 1, 3], [1, 2, 3]), 1);
  t.equal(pairedRatio([1, 10, 10], [2, 4, 40]), 0.5);
  t.equal(median([1, 10, 10]) / median([2, 4, 40]), 2.5);
  t.throws(() => pairedRatio([1, 2], [1]), /2 rounds against 1/);
});

t.test('interleave returns one wall and one CPU sample per round for every alternative', async (t) => {
  let calls = 0;
  const spin = () => {
    calls++;
    const t0 = performance.now();
    while (performance.now() - t0 < 1);
  };
  const s = interleave({ a: spin, b: spin }, { warmup: 1, rounds: 4 });
  t.equal(calls, 10);
  for (const k of ['a', 'b']) {
    t.equal(s[k].ms.length, 4);
    t.equal(s[k].cpu.length, 4);
    t.ok(
      s[k].ms.every((x) => x >= 1),
      'each sample spans the 1 ms spin',
    );
    t.equal(s[k].cpuMedian, median(s[k].cpu));
  }
});
