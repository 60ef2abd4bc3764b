/**
 * Sophia-G's per-group ρ (winRateTarget): the quantile selection against a sort, and whole steps against
 * hand-computed numbers.
 */
import t from 'tap';
import { checkGroups, quantileSelect } from '../../src/optim/group-quantile.js';
import { applyUpdates, findStats, sophiaG } from '../../src/optim/index.js';
import { rng } from '../../src/random/counter-rng.js';
import { assertClose } from './helpers.js';

t.test('quantileSelect equals the sorted element of rank ⌊q·n⌋', async (t) => {
  const r = rng(7, 'quantile');
  for (const n of [1, 2, 3, 7, 64, 1001]) {
    for (const q of [0.01, 0.3, 0.5, 0.77, 0.99]) {
      for (const kind of ['random', 'ties', 'sorted', 'reversed', 'constant']) {
        const xs = Array.from({ length: n }, (_, i) =>
          kind === 'random'
            ? r.normal()
            : kind === 'ties'
              ? Math.floor(r.uniform() * 4)
              : kind === 'sorted'
                ? i
                : kind === 'reversed'
                  ? n - i
                  : 3,
        );
        const want = [...xs].sort((a, b) => a - b)[Math.min(n - 1, Math.floor(q * n))];
        const scratch = Float64Array.from([...xs, 123456]); // a tail beyond n must be ignored
        t.equal(quantileSelect(scratch, n, q), want, `n ${n}, q ${q}, ${kind}`);
      }
    }
  }
});

t.test('groups are checked', async (t) => {
  t.throws(() => checkGroups('sophiaG', []), /non-empty array/);
  t.throws(
    () =>
      checkGroups('sophiaG', [
        [0, 2],
        [1, 3],
      ]),
    /groups\[1\] = \[1, 3\).*previous end 2/,
  );
  t.throws(() => checkGroups('sophiaG', [[2, 2]]), /must be non-empty/);
  t.throws(() => checkGroups('sophiaG', [[0, 1.5]]), /integer bounds/);
  t.throws(() => sophiaG({ groups: [[0, 1]] }), /'groups' only applies with 'winRateTarget'/);
  t.throws(() => sophiaG({ winRateTarget: 1 }), /winRateTarget/);
  t.throws(() => sophiaG({ winRateTarget: 0 }), /winRateTarget/);
});

t.test('winRateTarget: each group clipped at the quantile of its own Newton steps', async (t) => {
  // lr 0.1, β (0.5, 0.5), wd 0, bs 1, groups [0, 4) and [4, 6); target 0.5.
  // g = (8, 4, −2, 1, 0.02, −0.01), ĥ = (1, 1, 1, 1, 0.0001, 0.0001).
  // m = 0.5g = (4, 2, −1, 0.5, 0.01, −0.005); h = 0.5ĥ = (0.5, 0.5, 0.5, 0.5, 0.00005, 0.00005).
  // N = |m|/h: group 1 (8, 4, 2, 1) → rank ⌊0.5·4⌋ = 2 of (1, 2, 4, 8) → ρ1 = 4;
  //            group 2 (200, 100) → rank 1 of (100, 200) → ρ2 = 200.
  // ratios N/ρ: (2, 1, 0.5, 0.25) and (1, 0.5) → u = (1, 1, −0.5, 0.25, 1, −0.5) (ratio 1 counts as clipped);
  // θ1 = θ0 − 0.1u with θ0 = 0: (−0.1, −0.1, 0.05, −0.025, −0.1, 0.05). Win-rate (2 + 1)/6 = 0.5.
  // One fixed ρ = 4 would give group 2 ratios (50, 25): both clipped, win-rate 2/6.
  const opt = sophiaG({
    lr: 0.1,
    b1: 0.5,
    b2: 0.5,
    weightDecay: 0,
    winRateTarget: 0.5,
    groups: [
      [0, 4],
      [4, 6],
    ],
  });
  const params = new Float32Array(6);
  const [u, s] = opt.update(Float32Array.from([8, 4, -2, 1, 0.02, -0.01]), opt.init(params), params, {
    batchSize: 1,
    hessianDiag: Float32Array.from([1, 1, 1, 1, 0.0001, 0.0001]),
  });
  assertClose(t, applyUpdates(params, u), [-0.1, -0.1, 0.05, -0.025, -0.1, 0.05], 'params after step 1');
  t.equal(findStats(s)!.winRate, 0.5, 'win-rate at the target');
});

t.test(
  'winRateTarget: coordinates outside the groups keep the fixed ρ; no estimate yet → sign steps',
  async (t) => {
    const opt = sophiaG({
      lr: 0.1,
      b1: 0.5,
      b2: 0.5,
      rho: 1,
      weightDecay: 0,
      winRateTarget: 0.5,
      groups: [[0, 2]],
    });
    const params = new Float32Array(3);
    let state = opt.init(params);
    // Before any estimate h = 0: every coordinate takes lr·sign(m), as the official rule.
    let [u, s] = opt.update(Float32Array.from([2, -1, 0.5]), state, params, { batchSize: 1 });
    assertClose(t, applyUpdates(params, u), [-0.1, 0.1, -0.1], 'sign steps before the first estimate');
    state = s;
    // m = 0.25·(2, −1, 0.5) + 0.5·(2, 1, 0.25) = (1.5, 0.25, 0.25); h = 0.5·(1, 1, 1).
    // Group [0, 2): N = (3, 0.5) → ρ = 3 → ratios (1, 1/6); the third: |m|/(ρ·h) = 0.25/0.5 = 0.5.
    [u, s] = opt.update(Float32Array.from([2, 1, 0.25]), state, params, {
      batchSize: 1,
      hessianDiag: Float32Array.from([1, 1, 1]),
    });
    assertClose(t, applyUpdates(params, u), [-0.1, -0.1 / 6, -0.05], 'group ρ inside, fixed ρ outside');
    t.equal(findStats(s)!.winRate, 2 / 3, 'win-rate');
  },
);
