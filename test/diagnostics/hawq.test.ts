import t from 'tap';
import { rng } from '../../src/random/counter-rng.js';
import {
  type HawqLayerInput,
  groupValues,
  hawqLayersFromGroups,
  hawqMixedPrecision,
  hutchinsonTrace,
  hvpOperator,
  layoutGroups,
  quantizationError,
  quantizeSymmetric,
} from '../../src/diagnostics/index.js';
import { smallMlp } from './fixtures/helpers.js';

t.test('symmetric uniform quantisation with a per-tensor scale', async (t) => {
  t.same(Array.from(quantizeSymmetric([1, -0.6, 0.3, 0], 2)), [1, -1, 0, 0]);
  const q3 = quantizeSymmetric([1, -0.6, 0.3, 0], 3); // scale 1/3
  const want = [1, -2 / 3, 1 / 3, 0];
  for (let i = 0; i < 4; i++) t.ok(Math.abs(q3[i] - want[i]) < 1e-15);
  t.ok(Math.abs(quantizationError([1, -0.6, 0.3, 0], 2) - (0.16 + 0.09)) < 1e-15);
  t.same(Array.from(quantizeSymmetric([0, 0], 4)), [0, 0]);
  const w = rng(1, 'w').fillNormal(new Float64Array(500));
  let prev = Infinity;
  for (const b of [2, 3, 4, 6, 8]) {
    const e = quantizationError(w, b);
    t.ok(e < prev, `error decreases with bits (${b}: ${e})`);
    prev = e;
  }
  t.throws(() => quantizeSymmetric([1], 1));
});

t.test('equal layers: the higher-trace layer gets more bits', async (t) => {
  const w = rng(2, 'w').fillNormal(new Float64Array(64));
  const layers: HawqLayerInput[] = [
    { name: 'sharp', trace: 10, weights: w },
    { name: 'flat', trace: 1, weights: w },
  ];
  const res = hawqMixedPrecision({ layers, bits: [2, 4, 8], budgetBits: 64 * 12 });
  t.same(res.chosen!.bits, [8, 4]);
  t.equal(res.chosen!.sizeBits, 64 * 12);
  for (const c of res.frontier)
    t.ok(c.bits[0] >= c.bits[1], `frontier ${c.bits} never favours the flat layer`);
  t.same(hawqMixedPrecision({ layers, budgetBits: 64 * 16 }).chosen!.bits, [8, 8]);
  t.equal(hawqMixedPrecision({ layers, budgetBits: 64 * 4 - 1 }).chosen, null);
  const omega = res.layers[0].omega;
  t.ok(Math.abs(omega[0] - (10 / 64) * quantizationError(w, 2)) < 1e-12, 'Ω = Tr/n · ‖Q(W) − W‖²');
});

t.test('a negative trace estimate pins its layer at the widest bit-width, never at 2 bits', async (t) => {
  const w = rng(4, 'w').fillNormal(new Float64Array(64));
  const layers: HawqLayerInput[] = [
    { name: 'sharp', trace: 10, weights: w },
    { name: 'noisy', trace: -0.5, weights: w },
  ];
  // Budget 64·12 bits: the pinned layer stays at 8 and the sharp layer gets 4. Clamping the trace to
  // zero (the old behaviour) called the noisy layer insensitive and chose [8, 4].
  const res = hawqMixedPrecision({ layers, bits: [2, 4, 8], budgetBits: 64 * 12 });
  t.same(res.chosen!.bits, [4, 8]);
  t.same(
    res.layers.map((l) => l.pinned),
    [false, true],
  );
  t.ok(
    Math.abs(res.chosen!.omega - (10 / 64) * quantizationError(w, 4)) < 1e-12,
    'the pinned layer adds 0 to ΣΩ',
  );
  for (const c of res.frontier) t.equal(c.bits[1], 8, `frontier ${c.bits} keeps the pinned layer at 8`);
  t.equal(hawqMixedPrecision({ layers, bits: [2, 4, 8], budgetBits: 64 * 10 - 1 }).chosen, null);
});

t.test('random layers: exact optimum under the budget (vs brute force) and a valid frontier', async (t) => {
  const r = rng(3, 'hawq');
  const L = 5;
  const bits = [2, 3, 4, 8];
  const layers: HawqLayerInput[] = Array.from({ length: L }, (_, i) => ({
    name: `l${i}`,
    trace: 0.1 + 10 * r.uniform(),
    weights: r.fillNormal(new Float64Array(10 + r.int(200)), 0, 0.1 + r.uniform()),
  }));
  const sizes = layers.map((l) => l.weights.length);
  const minSize = 2 * sizes.reduce((a, b) => a + b, 0);
  const maxSize = 8 * sizes.reduce((a, b) => a + b, 0);
  for (const frac of [0, 0.13, 0.3, 0.5, 0.71, 1]) {
    const budget = Math.round(minSize + frac * (maxSize - minSize));
    const res = hawqMixedPrecision({ layers, bits, budgetBits: budget });
    // brute force over all 4^5 configurations
    let best = Infinity;
    const idx = new Array<number>(L).fill(0);
    for (let c = 0; c < bits.length ** L; c++) {
      let x = c;
      for (let i = 0; i < L; i++) {
        idx[i] = x % bits.length;
        x = Math.floor(x / bits.length);
      }
      let size = 0;
      let om = 0;
      for (let i = 0; i < L; i++) {
        size += sizes[i] * bits[idx[i]];
        om += res.layers[i].omega[idx[i]];
      }
      if (size <= budget) best = Math.min(best, om);
    }
    t.ok(res.chosen !== null);
    t.ok(res.chosen!.sizeBits <= budget, `size ${res.chosen!.sizeBits} within budget ${budget}`);
    t.ok(Math.abs(res.chosen!.omega - best) <= 1e-12 * best, `ΣΩ ${res.chosen!.omega} = brute-force ${best}`);
    const sz = res.chosen!.bits.reduce((s, b, i) => s + b * sizes[i], 0);
    t.equal(sz, res.chosen!.sizeBits);
  }
  const f = hawqMixedPrecision({ layers, bits, budgetBits: maxSize }).frontier;
  for (let i = 1; i < f.length; i++) t.ok(f[i].sizeBits > f[i - 1].sizeBits && f[i].omega < f[i - 1].omega);
  t.same(f[0].bits, [2, 2, 2, 2, 2]);
  t.same(f.at(-1)!.bits, [8, 8, 8, 8, 8]);
});

t.test('groupValues gathers a group from the flat vector', async (t) => {
  const flat = Float64Array.from([0, 1, 2, 3, 4, 5]);
  t.same(
    Array.from(
      groupValues(
        {
          name: 'g',
          ranges: [
            [1, 3],
            [4, 6],
          ],
          params: 4,
        },
        flat,
      ),
    ),
    [1, 2, 4, 5],
  );
});

t.test('end to end on the small MLP: traces per layer → bit-widths within budget', async (t) => {
  const { model, params, f } = smallMlp();
  const n = model.layout.size;
  const groups = layoutGroups(model.layout);
  const tr = hutchinsonTrace(hvpOperator(f, params), n, { groups, seed: 3 });
  const layers = hawqLayersFromGroups(groups, tr.perLayer, params.data);
  t.same(
    layers.map((l) => [l.name, l.weights.length]),
    [
      ['layers.0', 25],
      ['layers.1', 18],
    ],
  );
  t.same(Array.from(layers[1].weights), Array.from(params.data.subarray(25, 43)));
  const res = hawqMixedPrecision({ layers, budgetBits: 4 * n });
  t.ok(res.chosen!.sizeBits <= 4 * n);
  t.throws(
    () => hawqLayersFromGroups(groups, tr.perLayer.slice(1), params.data),
    /no trace for layer layers\.0/,
  );
});
