/**
 * The gpu.js Sophia-G step (interleaved state; the WGSL default is in webgpu-updates.test.ts) and the device-resident MLP Gauss-Newton-Bartlett probe on WebGPU, against
 * the CPU: the update formula evaluated in float64, the library's own `sophiaG` over several steps,
 * and `gnbDiag` (src/curvature/gnb-diag.ts) on the same model, batch and label stream. Skips, saying
 * why, when no WebGPU adapter answers.
 */
import t from 'tap';
import { gnbDiag } from '../../src/curvature/gnb-diag.js';
import { initialParams } from '../../src/nn/model.js';
import { mlp } from '../../src/nn/models/mlp.js';
import { applyUpdates, sophiaG } from '../../src/optim/index.js';
import { rng } from '../../src/random/counter-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { EPS32, assertWithin, awayF32, closeAtEnd, openDevice, randF32 } from './fixtures/helpers.js';

const opened = await openDevice();
if ('skip' in opened) {
  t.test('WebGPU Sophia-G and GNB probe', { skip: opened.skip }, () => {});
} else {
  const dev = opened.device;
  closeAtEnd(t, dev);

  t.test(
    'gpu.js Sophia-G step (interleaved state, the comparison path) equals the formula (float64) at odd sizes',
    async (t) => {
      let seed = 0;
      for (const d of [1, 7, 33, 65, 130, 257]) {
        const theta = randF32(d, -2, 2, ++seed, 'theta');
        const m0 = awayF32(d, 1e-4, 0.2, seed, 'm');
        const g = awayF32(d, 1e-3, 1, seed, 'g');
        const h = randF32(d, 0, 0.5, seed, 'h');
        for (let i = 0; i < d; i += 5) h[i] = 0; // h = 0: the clip must saturate at lr·sign(m)
        const o = { lr: 0.05, weightDecay: 0.1, b1: 0.965, rho: 0.04, batchSize: 32 };
        const wantTheta = new Float64Array(d);
        const wantM = new Float64Array(d);
        // the kernel takes its hyperparameters as float32 uniforms: the reference uses the same values
        const [b1, lr, wd, rhoBs] = [o.b1, o.lr, o.weightDecay, o.rho * o.batchSize].map(Math.fround);
        for (let i = 0; i < d; i++) {
          const m = b1 * m0[i] + (1 - b1) * g[i];
          wantM[i] = m;
          wantTheta[i] =
            theta[i] * (1 - lr * wd) - lr * Math.sign(m) * Math.min(Math.abs(m) / (rhoBs * h[i] + 1e-15), 1);
        }
        const [G, H] = [dev.upload(g), dev.upload(h)];
        const S0 = await dev.sophiaState(theta, m0);
        const S1 = await dev.sophiaGStep(S0, G, H, o);
        const { theta: gotTheta, m: gotM } = await dev.splitState(S1);
        // θ is O(1) and the step is lr-sized: float32 rounding of θ·(1 − lr·wd) dominates
        assertWithin(
          t,
          gotTheta,
          wantTheta,
          (i) => 1e-5 * Math.max(Math.abs(wantTheta[i]), 1e-2),
          `θ, d=${d}`,
        );
        // m = β1·m0 + (1−β1)·g cancels when the terms are opposite: bound by the terms' rounding
        const mTol = (i: number) =>
          1e-5 * Math.abs(wantM[i]) + 2 * EPS32 * (o.b1 * Math.abs(m0[i]) + (1 - o.b1) * Math.abs(g[i]));
        assertWithin(t, gotM, wantM, mTol, `m, d=${d}`);
        for (const x of [G, H, S0, S1]) x.free();
      }
    },
  );

  t.test("five steps agree with the library's sophiaG (estimates at steps 1 and 4)", async (t) => {
    const d = 130;
    const o = { lr: 0.02, weightDecay: 0.1, b1: 0.965, b2: 0.99, rho: 0.04, batchSize: 16 };
    const theta0 = randF32(d, -1, 1, 9, 'theta');
    const opt = sophiaG({ lr: o.lr, b1: o.b1, b2: o.b2, rho: o.rho, weightDecay: o.weightDecay });
    let params: Float32Array = theta0.slice();
    let state = opt.init(params);
    let S = await dev.sophiaState(theta0);
    let H = dev.fill(d, 0);
    for (let step = 1; step <= 5; step++) {
      const g = awayF32(d, 1e-3, 1, 9, 'g', step);
      const hHat = step === 1 || step === 4 ? randF32(d, 0, 2, 9, 'hhat', step) : undefined;
      const [updates, next] = opt.update(g, state, params, {
        batchSize: o.batchSize,
        ...(hHat ? { hessianDiag: hHat } : {}),
      });
      params = applyUpdates(params, updates) as Float32Array;
      state = next;
      const G = dev.upload(g);
      if (hHat) {
        const Hh = dev.upload(hHat);
        const H2 = await dev.ema(H, Hh, o.b2);
        H.free();
        Hh.free();
        H = H2;
      }
      const S2 = await dev.sophiaGStep(S, G, H, o);
      S.free();
      G.free();
      S = S2;
      const { theta } = await dev.splitState(S);
      assertWithin(
        t,
        theta,
        params,
        (i) => 1e-5 * Math.max(Math.abs(params[i]), 1e-2),
        `θ after step ${step}`,
      );
    }
    S.free();
    H.free();
  });

  t.test('MLP GNB probe on the device equals gnbDiag on the CPU', async (t) => {
    for (const [sizes, rows, seed] of [
      [[13, 17, 9, 5], 11, 1],
      [[7, 33, 3], 65, 2],
      [[4, 2], 1, 3],
    ] as [number[], number, number][]) {
      const model = mlp({ kind: 'mlp', sizes, activation: 'tanh' });
      const params = initialParams(model, seed) as Float32Array;
      const x = randF32(rows * sizes[0], -1, 1, seed, 'x');
      const step = 4;
      const cpu = gnbDiag(
        model,
        new Tensor(params, [params.length]),
        { data: x, shape: [rows, sizes[0]] },
        { seed, step },
      );
      // the same counter-based uniforms sampleLabels draws: one per row from rng(seed, 'gnb-labels', step)
      const r = rng(seed, 'gnb-labels', step);
      const u = Float64Array.from({ length: rows }, () => r.uniform());
      const [P, X, U] = [dev.upload(params), dev.upload(x), dev.upload(u)];
      const sampled = await dev.mlpGnbProbe({
        sizes,
        params: P,
        inputs: X,
        rows,
        uniforms: U,
        returnLabels: true,
      });
      t.same(
        Array.from(sampled.labels!),
        Array.from(cpu.sampled),
        `${sizes} × ${rows}: labels sampled on the device match the CPU's`,
      );
      // with the CPU's labels given, the diagonal is compared whatever the sampling did
      const L = dev.upload(cpu.sampled);
      const fixed = await dev.mlpGnbProbe({ sizes, params: P, inputs: X, rows, labels: L });
      let scale = 0;
      for (const v of cpu.diag) scale = Math.max(scale, Math.abs(v));
      // ĝ is a float32 forward and backward pass on both sides; ĝ² doubles ĝ's relative error.
      // Elements far below the largest carry cancellation error of the largest terms: floor 1e-7·max.
      const tol = (i: number) => 1e-5 * Math.abs(cpu.diag[i]) + 1e-7 * scale;
      assertWithin(t, fixed.diag, cpu.diag, tol, `${sizes} × ${rows}: diag with given labels`);
      assertWithin(
        t,
        sampled.diag,
        cpu.diag,
        tol,
        `${sizes} × ${rows}: diag with labels sampled on the device`,
      );
      t.ok(
        cpu.diag.some((v) => v > 0),
        'the estimate is not trivially zero',
      );
      for (const a of [P, X, U, L]) a.free();
    }
  });
}
