/**
 * The hand-written WGSL updates (bench/device-updates/wgsl-update.ts) against the CPU: the fused Sophia-G step
 * against its formula in float64 and against the library's sophiaG over several steps, the EMA, and
 * the fused AdaHessian step against src/optim adahessian. Lengths 1, 3, 4, 5, 1023, 1025 and 70000
 * cover the vec4 bulk, the scalar tail (d mod 4 = 1, 3) and both together; the grid-stride loop is
 * exercised by capping the workgroups per dispatch. Buffers start NaN-poisoned; in-place results are
 * also checked to have changed everywhere the formula says they must.
 */
import t from 'tap';
import { adahessian, applyUpdates, sophiaG } from '../../src/optim/index.js';
import { EPS32, assertWithin, awayF32, closeAtEnd, openDevice, randF32 } from './fixtures/helpers.js';

const LENGTHS = [1, 3, 4, 5, 1023, 1025, 70000];

const opened = await openDevice();
if ('skip' in opened) {
  t.test('WGSL updates', { skip: opened.skip }, () => {});
} else {
  const dev = opened.device;
  closeAtEnd(t, dev);

  t.test('WGSL Sophia-G step equals the formula (float64), in place', async (t) => {
    let seed = 0;
    for (const cap of [dev.maxWorkgroups, 2]) {
      const saved = dev.maxWorkgroups;
      dev.maxWorkgroups = cap; // 2: every length past 2·256·4 elements goes round the grid-stride loop
      for (const d of LENGTHS) {
        const theta = randF32(d, -2, 2, ++seed, 'theta');
        const m0 = awayF32(d, 1e-4, 0.2, seed, 'm');
        const g = awayF32(d, 1e-3, 1, seed, 'g');
        const h = randF32(d, 0, 0.5, seed, 'h');
        for (let i = 0; i < d; i += 5) h[i] = 0; // h = 0: the clip saturates at lr·sign(m)
        const o = { lr: 0.05, weightDecay: 0.1, b1: 0.965, rho: 0.04, batchSize: 32 };
        const wantTheta = new Float64Array(d);
        const wantM = new Float64Array(d);
        // the kernel's float32 uniforms: lr, 1 − lr·wd, β1, 1 − β1 and ρ·bs, each rounded once from float64
        const [lr, decay, b1, omb1, rhoBs] = [
          o.lr,
          1 - o.lr * o.weightDecay,
          o.b1,
          1 - o.b1,
          o.rho * o.batchSize,
        ].map(Math.fround);
        for (let i = 0; i < d; i++) {
          const m = b1 * m0[i] + omb1 * g[i];
          wantM[i] = m;
          wantTheta[i] =
            theta[i] * decay - lr * Math.sign(m) * Math.min(Math.abs(m) / (rhoBs * h[i] + 1e-15), 1);
        }
        const [G, H] = [dev.upload(g), dev.upload(h)];
        const S = dev.sophiaGState(theta, m0);
        const same = await dev.sophiaGStep(S, G, H, o);
        t.equal(same, S, 'the step updates the given buffers in place');
        const got = await dev.splitState(S);
        const tag = `d=${d}${cap === 2 ? ', 2 workgroups (grid-stride)' : ''}`;
        assertWithin(
          t,
          got.theta,
          wantTheta,
          (i) => 1e-5 * Math.max(Math.abs(wantTheta[i]), 1e-2),
          `θ, ${tag}`,
        );
        const mTol = (i: number) =>
          1e-5 * Math.abs(wantM[i]) + 2 * EPS32 * (o.b1 * Math.abs(m0[i]) + (1 - o.b1) * Math.abs(g[i]));
        assertWithin(t, got.m, wantM, mTol, `m, ${tag}`);
        let stale = 0;
        for (let i = 0; i < d; i++) if (got.m[i] === m0[i] && Math.fround(wantM[i]) !== m0[i]) stale++;
        t.equal(stale, 0, `every m element written, ${tag}`);
        for (const x of [G, H, S.theta, S.m]) x.free();
      }
      dev.maxWorkgroups = saved;
    }
  });

  t.test("WGSL Sophia-G: five steps agree with the library's sophiaG", async (t) => {
    const d = 1025;
    const o = { lr: 0.02, weightDecay: 0.1, b1: 0.965, b2: 0.99, rho: 0.04, batchSize: 16 };
    const theta0 = randF32(d, -1, 1, 9, 'theta');
    const opt = sophiaG({ lr: o.lr, b1: o.b1, b2: o.b2, rho: o.rho, weightDecay: o.weightDecay });
    let params: Float32Array = theta0.slice();
    let state = opt.init(params);
    const S = dev.sophiaGState(theta0);
    const H = dev.fill(d, 0);
    for (let step = 1; step <= 5; step++) {
      const g = awayF32(d, 1e-3, 1, 9, 'g', step);
      const hHat = step === 1 || step === 4 ? randF32(d, 0, 2, 9, 'hhat', step) : undefined;
      const [updates, next] = opt.update(g, state, params, {
        batchSize: o.batchSize,
        ...(hHat ? { hessianDiag: hHat } : {}),
      });
      params = applyUpdates(params, updates);
      state = next;
      const G = dev.upload(g);
      if (hHat) {
        const Hh = dev.upload(hHat);
        t.equal(await dev.ema(H, Hh, o.b2, { inPlace: true }), H, 'EMA in place');
        Hh.free();
      }
      await dev.sophiaGStep(S, G, H, o);
      G.free();
      const { theta } = await dev.splitState(S);
      assertWithin(
        t,
        theta,
        params,
        (i) => 1e-5 * Math.max(Math.abs(params[i]), 1e-2),
        `θ after step ${step}`,
      );
    }
    for (const x of [S.theta, S.m, H]) x.free();
  });

  t.test('WGSL EMA, in place and into a new (poisoned) array', async (t) => {
    let seed = 40;
    for (const d of LENGTHS) {
      const h = randF32(d, 0, 3, ++seed, 'h');
      const x = randF32(d, 0, 3, seed, 'x');
      const beta = 0.99;
      const want = Float64Array.from(h, (v, i) => Math.fround(beta) * v + (1 - Math.fround(beta)) * x[i]);
      const tol = (i: number) => 1e-6 * Math.abs(want[i]) + 2 * EPS32 * (h[i] + x[i]);
      const [H, X] = [dev.upload(h), dev.upload(x)];
      const E = await dev.ema(H, X, beta);
      assertWithin(t, await dev.download(E), want, tol, `ema into a new array, d=${d}`);
      assertWithin(t, await dev.download(H), h, () => 0, `h untouched, d=${d}`);
      await dev.ema(H, X, beta, { inPlace: true });
      assertWithin(t, await dev.download(H), want, tol, `ema in place, d=${d}`);
      const J = await dev.ema(H, X, beta, { impl: 'gpujs' });
      t.equal(J.length, d, 'the gpu.js EMA stays selectable');
      for (const a of [H, X, E, J]) a.free();
    }
  });

  t.test('WGSL AdaHessian step agrees with the library adahessian', async (t) => {
    for (const [d, k] of [
      [1025, 1],
      [5, 0.5],
      [70000, 0.7],
    ] as [number, number][]) {
      const o = { lr: 0.05, weightDecay: 0.01, b1: 0.9, b2: 0.999, eps: 1e-4, hessianPower: k };
      const theta0 = randF32(d, -1, 1, 60 + d, 'theta');
      const opt = adahessian(o);
      let params: Float32Array = theta0.slice();
      let state = opt.init(params);
      const S = { theta: dev.upload(theta0), m: dev.fill(d, 0), v: dev.fill(d, 0) };
      let D = dev.fill(d, 0);
      for (let step = 1; step <= 3; step++) {
        const g = awayF32(d, 1e-3, 1, 60 + d, 'g', step);
        const hHat = step !== 2 ? randF32(d, -2, 2, 60 + d, 'hhat', step) : undefined;
        const [updates, next] = opt.update(g, state, params, hHat ? { hessianDiag: hHat } : {});
        const before = params;
        params = applyUpdates(params, updates);
        state = next;
        if (hHat) {
          D.free();
          D = dev.upload(hHat.map(Math.abs)); // no blocks: D = |ĥ| elementwise
        }
        const G = dev.upload(g);
        await dev.adahessianStep(S, G, D, { ...o, step });
        G.free();
        const theta = await dev.download(S.theta);
        assertWithin(
          t,
          theta,
          params,
          // + 1e-4 of the step: pow(x, k) in float32 (exp2·log2) is a few ulp off
          (i) => 2e-5 * Math.max(Math.abs(params[i]), 1e-2) + 1e-4 * Math.abs(params[i] - before[i]),
          `θ after step ${step}, d=${d}, k=${k}`,
        );
      }
      for (const x of [S.theta, S.m, S.v, D]) x.free();
    }
  });

  t.test('in-place updates refuse aliased state', async (t) => {
    const X = dev.fill(8, 1);
    const G = dev.fill(8, 1);
    const o = { lr: 0.1, weightDecay: 0, b1: 0.9, rho: 0.04, batchSize: 1 };
    await t.rejects(dev.sophiaGStep({ theta: X, m: X }, G, G, o), /must be different arrays/);
    await t.rejects(dev.ema(X, X, 0.5, { inPlace: true }), /must be different arrays/);
    await t.rejects(dev.sophiaGStep({ theta: X, m: dev.fill(4, 0) }, G, G, o), /needs 8/);
    X.free();
    G.free();
  });
}
