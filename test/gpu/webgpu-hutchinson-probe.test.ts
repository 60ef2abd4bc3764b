/**
 * The device-resident Hutchinson probe of a tanh MLP (src/gpu/probes/mlp-hutchinson.ts: R-operator
 * Hessian-vector products) against the CPU's `estimateCurvature` (src/curvature hutchinsonDiag, double
 * backward) on the same θ, batch and Rademacher directions: estimate, loss and gradient within float32
 * tolerance, for a deep and a shallow net and several directions. Skips, saying why, when no WebGPU
 * adapter answers.
 */
import t from 'tap';
import { batchAt, softmaxRegressionData } from '../../src/data/index.js';
import { initialParams } from '../../src/nn/model.js';
import { mlp } from '../../src/nn/models/mlp.js';
import { rng } from '../../src/random/counter-rng.js';
import { estimateCurvature, resolveCurvature } from '../../src/step/curvature-schedule.js';
import { assertWithin, closeAtEnd, openDevice } from './fixtures/helpers.js';
import { maxAbs } from './fixtures/tanh-mlp.js';

const opened = await openDevice();
if ('skip' in opened) {
  t.test('WebGPU Hutchinson probe', { skip: opened.skip }, () => {});
} else {
  const dev = opened.device;
  closeAtEnd(t, dev);

  for (const { sizes, rows, probes } of [
    { sizes: [5, 7, 6, 4], rows: 13, probes: 3 },
    { sizes: [9, 11, 3], rows: 40, probes: 1 },
  ]) {
    t.test(`sizes ${sizes.join('-')}, ${rows} rows, ${probes} direction(s): equals the CPU`, async (t) => {
      const model = mlp({ kind: 'mlp', sizes, activation: 'tanh' });
      const data = softmaxRegressionData({
        samples: 200,
        features: sizes[0],
        classes: sizes.at(-1)!,
        seed: 4,
      });
      const batch = batchAt(data.dataset, { batchSize: rows, seed: 5 }, 1);
      // θ scaled up so that tanh saturates in places: the (1 − h²) and −2h·R(h) terms both matter
      const params = (initialParams(model, 6) as Float32Array).map((v) => 2.5 * v);
      const [seed, step] = [7, 3];
      const want = estimateCurvature(
        resolveCurvature({ estimator: 'hutchinson', probes }),
        model,
        params,
        batch,
        seed,
        step,
      );
      const n = params.length;
      const up = [params, batch.inputs, batch.targets].map((x) => dev.upload(x));
      const directions = Array.from({ length: probes }, (_, k) =>
        dev.upload(rng(seed, 'hutchinson', step, k).fillRademacher(new Float32Array(n))),
      );
      try {
        const got = await dev.mlpHutchinsonProbe({
          sizes,
          params: up[0],
          inputs: up[1],
          labels: up[2],
          rows,
          directions,
        });
        const d = maxAbs(want.diag);
        t.ok(d > 0, 'a nonzero estimate');
        assertWithin(t, got.diag, want.diag, () => 1e-5 * d, 'z⊙Hz within 1e-5·max|diag|');
        const g = maxAbs(want.grad!);
        assertWithin(t, got.grad, want.grad!, () => 1e-5 * g, 'gradient within 1e-5·max|grad|');
        t.ok(Math.abs(got.loss - want.loss!) <= 1e-6 * want.loss!, `loss ${got.loss} vs ${want.loss}`);
      } finally {
        for (const a of [...up, ...directions]) a.free();
      }
    });
  }
}
