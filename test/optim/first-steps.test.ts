/**
 * The first steps of every optimizer against numbers worked out by hand from the official update rules
 * (derivations in the comments; a float64 calculator was used for the longer products, never this code).
 * Gradients are fixed numbers per step, so each expectation depends on the update rule alone.
 */
import t from 'tap';
import {
  adahessian,
  adamw,
  applyUpdates,
  findStats,
  lion,
  mfac,
  sgd,
  sophiaG,
  sophiaH,
  type GradientTransformation,
  type UpdateExtra,
} from '../../src/optim/index.js';
import { assertClose, type Asserter } from './helpers.js';

interface Step {
  grad: number[];
  extra?: UpdateExtra;
  expected: number[];
}

/** Applies the steps from theta0 and checks params after each; returns the final state. */
function check(tt: Asserter, opt: GradientTransformation, theta0: number[], steps: Step[]): unknown {
  let params: Float32Array = Float32Array.from(theta0);
  let state = opt.init(params);
  steps.forEach((s, i) => {
    const [updates, next] = opt.update(Float32Array.from(s.grad), state, params, s.extra);
    params = applyUpdates(params, updates);
    state = next;
    assertClose(tt, params, s.expected, `params after step ${i + 1}`);
  });
  return state;
}

t.test('sgd: Nesterov momentum with L2 weight decay (torch.optim.SGD)', async (t) => {
  // lr 0.1, μ 0.9, wd 0.01, θ0 = (1, −2, 0.5).
  // Step 1: g' = g + wd·θ = (0.51, −1.02, 2.005); b = g'; d = g' + μb = 1.9g' = (0.969, −1.938, 3.8095);
  //         θ1 = θ0 − 0.1d = (0.9031, −1.8062, 0.11905).
  // Step 2: g' = (1, 1, −1) + 0.01θ1 = (1.009031, 0.981938, −0.9988095);
  //         b = g' + 0.9·b1 = (1.468031, 0.063938, 0.8056905); d = g' + 0.9b = (2.3302589, 1.0394822, −0.27368805);
  //         θ2 = θ1 − 0.1d = (0.67007411, −1.91014822, 0.146418805).
  check(
    t,
    sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    [1, -2, 0.5],
    [
      { grad: [0.5, -1, 2], expected: [0.9031, -1.8062, 0.11905] },
      { grad: [1, 1, -1], expected: [0.67007411, -1.91014822, 0.146418805] },
    ],
  );
});

t.test('sgd: plain step is θ − lr·g', async (t) => {
  check(t, sgd({ lr: 0.5 }), [1, 2, 3], [{ grad: [2, -2, 0.5], expected: [0, 3, 2.75] }]);
});

t.test('adamw: bias-corrected moments and decoupled decay', async (t) => {
  // lr 0.1, β (0.9, 0.999), eps 1e-8, wd 0.01, θ0 = (1, −2, 0.5), g1 = (0.5, −1, 2).
  // Step 1: m̂ = g1, v̂ = g1², so u = g1/(|g1| + 1e-8) ≈ sign(g1); θ1 = θ0 − 0.1(u + 0.01θ0)
  //         = (1 − 0.1·(1 + 0.01), −2 − 0.1·(−1 − 0.02), 0.5 − 0.1·(1 + 0.005)) = (0.899, −1.898, 0.3995).
  // Step 2 (g2 = (1, 1, −1)): m = 0.09g1 + 0.1g2, v = 0.000999g1² + 0.001g2², m̂ = m/0.19, v̂ = v/0.001999;
  //         θ2 = θ1 − 0.1(m̂/(√v̂ + 1e-8) + 0.01θ1) = (0.8015828006, −1.901365159, 0.3724667967).
  check(
    t,
    adamw({ lr: 0.1, weightDecay: 0.01 }),
    [1, -2, 0.5],
    [
      { grad: [0.5, -1, 2], expected: [0.899, -1.898, 0.3995] },
      { grad: [1, 1, -1], expected: [0.8015828006, -1.901365159, 0.3724667967] },
    ],
  );
});

t.test('adamw: eps is added outside the square root', async (t) => {
  // eps 0.5 makes its placement visible: u = g/(|g| + 0.5) = (0.5, −1/1.5, 0.8) for g = (0.5, −1, 2);
  // θ1 = θ0 − 0.1u = (0.95, −1.933333333, 0.42).
  check(
    t,
    adamw({ lr: 0.1, eps: 0.5, weightDecay: 0 }),
    [1, -2, 0.5],
    [{ grad: [0.5, -1, 2], expected: [0.95, -1.933333333, 0.42] }],
  );
});

t.test('lion: sign of the interpolated momentum, EMA updated after', async (t) => {
  // lr 0.1, β (0.9, 0.99), wd 0.5: θ ← θ·(1 − 0.05) − 0.1·sign(0.9m + 0.1g); m ← 0.99m + 0.01g.
  // Step 1 (m = 0): sign(g1) = (1, −1, 0): θ1 = (0.95 − 0.1, −1.9 + 0.1, 0.475) = (0.85, −1.8, 0.475);
  //         m1 = (0.005, −0.01, 0).
  // Step 2, g2 = (−0.01, 1, −1): c = 0.9m1 + 0.1g2 = (0.0045 − 0.001, −0.009 + 0.1, −0.1) → signs (+, +, −):
  //         the first coordinate moves against its own gradient because the momentum wins.
  //         θ2 = (0.8075 − 0.1, −1.71 − 0.1, 0.45125 + 0.1) = (0.7075, −1.81, 0.55125).
  const state = check(
    t,
    lion({ lr: 0.1, weightDecay: 0.5 }),
    [1, -2, 0.5],
    [
      { grad: [0.5, -1, 0], expected: [0.85, -1.8, 0.475] },
      { grad: [-0.01, 1, -1], expected: [0.7075, -1.81, 0.55125] },
    ],
  ) as [{ mu: Float32Array }];
  assertClose(t, state[0].mu, [0.00485, 0.0001, -0.01], 'momentum after step 2 (0.99·m1 + 0.01·g2)');
});

t.test('sophiaG: estimate at step 1 only; clipping on some coordinates', async (t) => {
  // lr 0.1, β (0.9, 0.9), ρ 0.5, wd 0.1, bs 4, θ0 = (1, −1, 2, 0.5).
  // Step 1: θ·(1 − 0.01); m1 = 0.1g1 = (0.02, −0.04, 0.1, 0); ĥ arrives: h1 = 0.1ĥ = (0.1, 0.05, 0.001, 0.2);
  //         ρ·bs·h = (0.2, 0.1, 0.002, 0.4); |m|/(ρ·bs·h) = (0.1, 0.4, 50, 0) → the third is clipped to 1;
  //         θ1 = 0.99θ0 − 0.1·(0.1, −0.4, 1, 0) = (0.98, −0.95, 1.88, 0.495); the fourth coordinate has
  //         had no gradient (m = 0: not live), so the win-rate is 2 of the 3 live ones.
  // Step 2 (no estimate, h stays): m2 = 0.9m1 + 0.1g2 = (0.218, −0.076, 0.14, −0.1);
  //         ratios (1.09, 0.76, 70, 0.25) → first and third clipped; u = (1, −0.76, 1, −0.25);
  //         θ2 = 0.99θ1 − 0.1u = (0.8702, −0.8645, 1.7612, 0.51505); win-rate 2/4.
  const opt = sophiaG({ lr: 0.1, b1: 0.9, b2: 0.9, rho: 0.5, weightDecay: 0.1 });
  let params: Float32Array = Float32Array.from([1, -1, 2, 0.5]);
  let state = opt.init(params);
  let [u, s] = opt.update(Float32Array.from([0.2, -0.4, 1, 0]), state, params, {
    batchSize: 4,
    hessianDiag: Float32Array.from([1, 0.5, 0.01, 2]),
  });
  params = applyUpdates(params, u);
  state = s;
  assertClose(t, params, [0.98, -0.95, 1.88, 0.495], 'params after step 1');
  let stats = findStats(state)!;
  t.equal(stats.winRate, 2 / 3, 'win-rate after step 1: live coordinates only');
  assertClose(
    t,
    [stats.hMean, stats.hMax, stats.hMin],
    [0.08775, 0.2, 0.001],
    'curvature stats after step 1',
  );
  t.same([stats.hessianUpdates, stats.stepsSinceHessian], [1, 0], 'estimate counted');

  [u, s] = opt.update(Float32Array.from([2, -0.4, 0.5, -1]), state, params, { batchSize: 4 });
  params = applyUpdates(params, u);
  state = s;
  assertClose(t, params, [0.8702, -0.8645, 1.7612, 0.51505], 'params after step 2');
  stats = findStats(state)!;
  t.equal(stats.winRate, 0.5, 'win-rate after step 2');
  t.same([stats.hessianUpdates, stats.stepsSinceHessian], [1, 1], 'no new estimate at step 2');
  const inner = (state as [{ h: Float32Array; m: Float32Array }])[0];
  assertClose(t, inner.h, [0.1, 0.05, 0.001, 0.2], 'h unchanged without an estimate');
  assertClose(t, inner.m, [0.218, -0.076, 0.14, -0.1], 'm after step 2');
});

t.test('sophiaG biasCorrection: h divided by 1 − β2ⁿ after n estimates', async (t) => {
  // lr 0.1, β (0.9, 0.9), ρ 0.5, wd 0, bs 4, θ0 = (1, −1, 2, 0.5).
  // Step 1: m1 = (0.02, −0.04, 0.1, 0); h1 = 0.1ĥ1, n = 1, so h1/(1 − 0.9) = ĥ1 = (1, 0.5, 0.01, 2);
  //         ρ·bs·ĥ1 = (2, 1, 0.02, 4); ratios (0.01, 0.04, 5, 0) → u = (0.01, −0.04, 1, 0);
  //         θ1 = (0.999, −0.996, 1.9, 0.5).
  // Step 2: ĥ2 = (3, 0.5, 0.02, 0): h2 = 0.9h1 + 0.1ĥ2 = (0.39, 0.095, 0.0029, 0.18), n = 2, 1 − 0.81 = 0.19;
  //         ρ·bs·h2/0.19 = (4.105263, 1, 0.030526, 1.894737); m2 = (0.218, −0.076, 0.14, −0.1);
  //         ratios (0.0531026, 0.076, 4.59, 0.0527778) → the third clipped;
  //         θ2 = θ1 − 0.1u = (0.99368974, −0.9884, 1.8, 0.50527778). Win-rate 3/4 both steps.
  const opt = sophiaG({ lr: 0.1, b1: 0.9, b2: 0.9, rho: 0.5, weightDecay: 0, biasCorrection: true });
  const state = check(
    t,
    opt,
    [1, -1, 2, 0.5],
    [
      {
        grad: [0.2, -0.4, 1, 0],
        extra: { batchSize: 4, hessianDiag: Float32Array.from([1, 0.5, 0.01, 2]) },
        expected: [0.999, -0.996, 1.9, 0.5],
      },
      {
        grad: [2, -0.4, 0.5, -1],
        extra: { batchSize: 4, hessianDiag: Float32Array.from([3, 0.5, 0.02, 0]) },
        expected: [0.99368974, -0.9884, 1.8, 0.50527778],
      },
    ],
  );
  t.equal(findStats(state)!.winRate, 0.75, 'win-rate after step 2');
});

t.test('sophiaG: before any estimate h = 0, so steps are lr·sign(m)', async (t) => {
  // wd 0: θ1 = θ0 − 1e-4·sign(g) with the default lr; a zero gradient coordinate stays.
  check(
    t,
    sophiaG({ weightDecay: 0 }),
    [1, 1, 1],
    [{ grad: [3, -0.001, 0], extra: { batchSize: 480 }, expected: [0.9999, 1.0001, 1] }],
  );
});

t.test('sophiaH: bias-corrected m, max(γh, ε), clip 1, coupled decay', async (t) => {
  // lr 0.1, β (0.9, 0.9), γ 0.5, ε 1e-12, wd 0.1; θ ← θ − 0.1·(clip(m̂/max(γh, ε)) + 0.1θ).
  // Step 1: m̂ = g1 = (0.2, −0.4, 1, 0.3); h1 = 0.1ĥ = (1, 4, −0.2, 0.004); max(γh, ε) = (0.5, 2, 1e-12, 0.002);
  //         u = (0.4, −0.2, 1e12 → 1, 150 → 1) (negative curvature → ε → clipped); win-rate 2/4;
  //         θ1 = 0.99θ0 − 0.1u = (0.95, −0.97, 1.88, 0.395).
  // Step 2 (no estimate): m2 = 0.9m1 + 0.1g2 = (−0.082, −0.016, 0.14, 0.027), m̂ = m2/0.19;
  //         u = (−0.8631578947, −0.04210526316, 1, 1); θ2 = 0.99θ1 − 0.1u = (1.026815789, −0.9560894737, 1.7612, 0.29105).
  // Step 3 (ĥ3 = (4, 4, 4, 400), folded in before the update): h3 = 0.9h1 + 0.1ĥ3 = (1.3, 4, 0.22, 40.0036);
  //         m̂ = m3/0.271; u = (−0.1351121204, 0.06568265683, 1, −0.004741270703); win-rate 3/4;
  //         θ3 = (1.030058844, −0.9530968446, 1.643588, 0.2886136271).
  const opt = sophiaH({ lr: 0.1, b1: 0.9, b2: 0.9, gamma: 0.5, weightDecay: 0.1 });
  const state = check(
    t,
    opt,
    [1, -1, 2, 0.5],
    [
      {
        grad: [0.2, -0.4, 1, 0.3],
        extra: { hessianDiag: Float32Array.from([10, 40, -2, 0.04]) },
        expected: [0.95, -0.97, 1.88, 0.395],
      },
      { grad: [-1, 0.2, 0.5, 0], expected: [1.026815789, -0.9560894737, 1.7612, 0.29105] },
      {
        grad: [0.5, 0.5, -0.5, -0.5],
        extra: { hessianDiag: Float32Array.from([4, 4, 4, 400]) },
        expected: [1.030058844, -0.9530968446, 1.643588, 0.2886136271],
      },
    ],
  );
  t.equal(findStats(state)!.winRate, 0.75, 'win-rate after step 3');
});

t.test('adahessian: block-averaged |ĥ|, reused when no estimate arrives', async (t) => {
  // lr 0.1, β (0.9, 0.99), ε 1e-4, k 1, wd 0.01. Blocks: a dense [1, 2] tensor at offset 0 averaged over its
  // whole row; coordinates 2 and 3 are in no block (per-coordinate |ĥ|).
  // Step 1: ĥ = (1, −3, 2, −0.5) → |ĥ| = (1, 3, 2, 0.5) → D = (2, 2, 2, 0.5); v1 = 0.01D², bc2 = 0.01, so
  //         √v/√bc2 = D; m̂ = g1; θ1 = θ0 − 0.1(g1/(D + 1e-4) + 0.01θ0)
  //         = (0.99400025, −0.9890005, 1.98300075, 0.4195159968).
  // Step 2 (no estimate → D reused): v2 = 0.99v1 + 0.01D² = 0.0199D², bc2 = 0.0199 → √v̂ = D again;
  //         m̂ = (0.09g1 + 0.1g2)/0.19; θ2 = (0.982743605, −0.9859063416, 1.979175736, 0.3812093214).
  // Step 3: ĥ = (0.5, 0.5, −4, 1) → D = (0.5, 0.5, 4, 1); v3 = 0.99v2 + 0.01D3², bc2 = 0.029701;
  //         θ3 = (0.9761631853, −0.987775027, 1.975075428, 0.3795789885).
  const opt = adahessian({
    lr: 0.1,
    b1: 0.9,
    b2: 0.99,
    weightDecay: 0.01,
    blocks: [{ offset: 0, shape: [1, 2], kind: 'dense', blockLength: -1 }],
  });
  const state = check(
    t,
    opt,
    [1, -1, 2, 0.5],
    [
      {
        grad: [0.1, -0.2, 0.3, 0.4],
        extra: { hessianDiag: Float32Array.from([1, -3, 2, -0.5]) },
        expected: [0.99400025, -0.9890005, 1.98300075, 0.4195159968],
      },
      { grad: [0.3, 0.1, -0.2, 0], expected: [0.982743605, -0.9859063416, 1.979175736, 0.3812093214] },
      {
        grad: [-0.1, 0.2, 0.1, -0.3],
        extra: { hessianDiag: Float32Array.from([0.5, 0.5, -4, 1]) },
        expected: [0.9761631853, -0.987775027, 1.975075428, 0.3795789885],
      },
    ],
  ) as [{ diag: Float32Array; hessianUpdates: number }];
  assertClose(t, state[0].diag, [0.5, 0.5, 4, 1], 'last D kept in state');
  t.equal(state[0].hessianUpdates, 2, 'two estimates folded in');
});

t.test('mfac: F⁻¹g over a window of 2 with L2 decay and momentum', async (t) => {
  // lr 0.1, m 2, damp 0.5, μ 0.5, wd 0.1, θ0 = (1, −1, 0.5). Each step: g' = g + 0.1θ enters the window
  // (evicting the oldest once 2 are held); F = 0.5·I + (1/2)Σ g'g'ᵀ over the window; dir = F⁻¹g' (solved
  // densely by a calculator, not by Woodbury); v ← 0.5v + 0.5dir; θ ← θ − 0.1v.
  // Step 1: g' = (1.1, 1.9, 0.05), F = 0.5I + ½g'g'ᵀ → dir = g'/(0.5 + ½|g'|²) = (0.3778445685, 0.6526406183, 0.01717475311)
  //         θ1 = θ0 − 0.05dir = (0.9811077716, −1.032632031, 0.4991412623).
  // Step 2: window {g'1, g'2}, dir = (−0.2155852052, 0.2942770337, −0.8847793939) → θ2 = (0.9824409176, −1.063661898, 0.5429508632).
  // Step 3: g'1 evicted, window {g'2, g'3}, dir = (0.6835864434, 0.06026895696, 0.2382746707)
  //         → θ3 = (0.9489281685, −1.082190279, 0.5529419301).
  check(
    t,
    mfac({ lr: 0.1, m: 2, damp: 0.5, momentum: 0.5, weightDecay: 0.1 }),
    [1, -1, 0.5],
    [
      { grad: [1, 2, 0], expected: [0.9811077716, -1.032632031, 0.4991412623] },
      { grad: [0, 1, -1], expected: [0.9824409176, -1.063661898, 0.5429508632] },
      { grad: [2, 0, 1], expected: [0.9489281685, -1.082190279, 0.5529419301] },
    ],
  );
});
