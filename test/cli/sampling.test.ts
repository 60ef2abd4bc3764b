/**
 * The sampling distribution against hand-computed softmaxes: temperature scaling, top-k support (ties
 * broken by index), the T → 0 limit (greedy), and drawing by inverse CDF never picking a token of
 * probability 0.
 */
import t, { type Test } from 'tap';
import { drawToken, samplingDistribution } from '../../src/cli/sampling.js';

const close = (t: Test, got: ArrayLike<number>, want: number[], what: string) => {
  t.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++)
    t.ok(Math.abs(got[i] - want[i]) < 1e-15, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
};

t.test('temperature: softmax(logits / T)', async (t) => {
  const logits = [1, 2, 0, 3];
  // T = 1: e^(l - 3) / Σ, by hand.
  const e = [Math.exp(-2), Math.exp(-1), Math.exp(-3), 1];
  const z = e.reduce((a, b) => a + b, 0);
  close(
    t,
    samplingDistribution(logits, { temperature: 1 }),
    e.map((x) => x / z),
    'T = 1',
  );
  // T = 2: e^((l - 3) / 2).
  const e2 = [Math.exp(-1), Math.exp(-0.5), Math.exp(-1.5), 1];
  const z2 = e2.reduce((a, b) => a + b, 0);
  close(
    t,
    samplingDistribution(logits, { temperature: 2 }),
    e2.map((x) => x / z2),
    'T = 2',
  );
  // T → 0 tends to the argmax; T = 0 is exactly it.
  const cold = samplingDistribution(logits, { temperature: 0.01 });
  t.equal(cold[3], 1, 'T = 0.01: the argmax takes the mass (1 − e^-100 rounds to 1)');
  t.ok(Math.abs(cold[1] / Math.exp(-100) - 1) < 1e-12, 'the runner-up has e^-100 of it');
  t.same([...samplingDistribution(logits, { temperature: 0 })], [0, 0, 0, 1], 'T = 0: argmax');
  t.same([...samplingDistribution([5, 5, 1], { temperature: 0 })], [1, 0, 0], 'a tie: the first');
  t.same([...samplingDistribution([1e4, 0], { temperature: 1 })], [1, 0], 'no overflow');
});

t.test('top-k restricts the support to the k largest logits', async (t) => {
  const logits = [0.5, 2, -1, 2, 1];
  // k = 2: indices 1 and 3 (equal logits), each 1/2.
  close(t, samplingDistribution(logits, { temperature: 1, topK: 2 }), [0, 0.5, 0, 0.5, 0], 'k = 2');
  // k = 3: 1, 3 and 4: e^0, e^0, e^-1.
  const z = 2 + Math.exp(-1);
  close(
    t,
    samplingDistribution(logits, { temperature: 1, topK: 3 }),
    [0, 1 / z, 0, 1 / z, Math.exp(-1) / z],
    'k = 3',
  );
  // Ties at the cut go to the lower index: k = 1 of [2, 2] keeps index 1 of logits.
  t.same([...samplingDistribution(logits, { temperature: 1, topK: 1 })], [0, 1, 0, 0, 0], 'k = 1: argmax');
  close(
    t,
    samplingDistribution(logits, { temperature: 1, topK: 99 }),
    [...samplingDistribution(logits, { temperature: 1 })],
    'k > n: all',
  );
  t.throws(() => samplingDistribution(logits, { temperature: -1 }), { message: /temperature must be/ });
  t.throws(() => samplingDistribution(logits, { temperature: 1, topK: 0 }), { message: /topK must be/ });
});

t.test('drawToken: inverse CDF, never a zero-probability token', async (t) => {
  const p = [0, 0.25, 0, 0.75, 0];
  t.equal(drawToken(p, 0), 1);
  t.equal(drawToken(p, 0.2499), 1);
  t.equal(drawToken(p, 0.25), 3);
  t.equal(drawToken(p, 0.9999999), 3);
  t.equal(
    drawToken([0, 0.3, 0.3, 0.3999999, 0], 0.99999999),
    3,
    'rounding short of 1: the last possible token',
  );
});
