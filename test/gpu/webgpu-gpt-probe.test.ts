/**
 * The device-resident GNB probe of the character-level GPT (src/gpu/probes/gpt-gnb.ts) against the
 * CPU's `gnbDiag` (src/curvature/gnb-diag.ts) on the same model, batch and label stream, at tiny
 * sizes (software WebGPU is slow): tied and untied heads, full and short windows (T < blockSize, so
 * some position embeddings get no gradient). The device is opened with every new buffer poisoned with
 * NaN, so an element no kernel wrote shows up. Skips, saying why, when no WebGPU adapter answers.
 */
import t from 'tap';
import { gnbDiag } from '../../src/curvature/gnb-diag.js';
import { gptGnbProbe } from '../../src/gpu/probes/gpt-gnb.js';
import type { DeviceArray } from '../../src/gpu/device/device.js';
import { initialParams, type GptSpec } from '../../src/nn/model.js';
import { gpt } from '../../src/nn/models/gpt.js';
import { rng } from '../../src/random/counter-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertWithin, closeAtEnd, openDevice } from './fixtures/helpers.js';

const opened = await openDevice();
if ('skip' in opened) {
  t.test('WebGPU GPT GNB probe', { skip: opened.skip }, () => {});
} else {
  const dev = opened.device;
  closeAtEnd(t, dev);

  // maxWorkgroups: a cap of 2 workgroups (128 invocations) makes every kernel loop grid-stride
  const cases: { nEmbd: number; tied: boolean; T: number; seed: number; maxWorkgroups?: number }[] = [
    { nEmbd: 8, tied: true, T: 8, seed: 1 },
    { nEmbd: 8, tied: false, T: 8, seed: 2 },
    { nEmbd: 16, tied: true, T: 5, seed: 3 },
    { nEmbd: 16, tied: false, T: 8, seed: 4 },
    { nEmbd: 8, tied: true, T: 1, seed: 5 },
    { nEmbd: 16, tied: true, T: 7, seed: 6, maxWorkgroups: 2 },
  ];
  for (const { nEmbd, tied, T, seed, maxWorkgroups } of cases) {
    const spec: GptSpec = { kind: 'gpt', vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd, tied };
    const batch = 3;
    const what = `nEmbd ${nEmbd}, ${tied ? 'tied' : 'untied'}, T ${T}${maxWorkgroups ? `, ≤ ${maxWorkgroups} workgroups` : ''}`;
    t.test(`GPT GNB probe on the device equals gnbDiag on the CPU (${what})`, async (t) => {
      const cap = dev.maxWorkgroups;
      if (maxWorkgroups) dev.maxWorkgroups = maxWorkgroups;
      t.teardown(() => void (dev.maxWorkgroups = cap));
      const model = gpt(spec);
      const params = initialParams(model, seed) as Float32Array;
      // GPT-2's init leaves LayerNorm at (1, 0) and the attention nearly uniform; perturbing every
      // parameter makes each kernel's every input matter
      const r0 = rng(seed, 'gpt-probe-test', 'perturb');
      for (let i = 0; i < params.length; i++) params[i] += 0.3 * (r0.uniform() - 0.5);
      const r1 = rng(seed, 'gpt-probe-test', 'tokens');
      const ids = Int32Array.from({ length: batch * T }, () => Math.floor(r1.uniform() * spec.vocabSize));
      const step = 6;
      const cpu = gnbDiag(
        model,
        new Tensor(params, [params.length]),
        { data: ids, shape: [batch, T] },
        { seed, step },
      );
      // sampleLabels' uniforms: one per token row b·T + t, in row order, from rng(seed, 'gnb-labels', step)
      const r = rng(seed, 'gnb-labels', step);
      const u = Float64Array.from({ length: batch * T }, () => r.uniform());
      const arrays: DeviceArray[] = [];
      const up = (x: ArrayLike<number>) => (arrays.push(dev.upload(x)), arrays[arrays.length - 1]);
      const common = { spec, params: up(params), tokens: up(ids), batch, T };
      const sampled = await gptGnbProbe(dev, {
        ...common,
        uniforms: up(u),
        returnLabels: true,
        returnLogits: true,
      });
      t.same(Array.from(sampled.labels!), Array.from(cpu.sampled), `${what}: device labels = CPU labels`);
      t.equal(sampled.logits!.length, batch * T * spec.vocabSize, 'logits read back on request');
      const fixed = await gptGnbProbe(dev, { ...common, labels: up(cpu.sampled) });

      // every element written: no NaN from the poisoned buffers, exact zeros for unused positions
      t.equal(fixed.diag.length, model.layout.size);
      t.ok(
        fixed.diag.every((v) => Number.isFinite(v) && v >= 0),
        'every element of the estimate is written (finite, ≥ 0)',
      );
      const wpe = model.layout.get('transformer.wpe.weight');
      const unused = fixed.diag.subarray(wpe.offset + T * nEmbd, wpe.offset + wpe.size);
      t.ok(
        unused.every((v) => v === 0),
        `positions ${T}…${spec.blockSize - 1} have exactly zero curvature`,
      );

      let scale = 0;
      for (const v of cpu.diag) scale = Math.max(scale, Math.abs(v));
      let worst = 0;
      for (let i = 0; i < cpu.diag.length; i++)
        worst = Math.max(worst, Math.abs(fixed.diag[i] - cpu.diag[i]) / scale);
      t.comment(
        `${what}: ${params.length} parameters, max |device − CPU| / max|diag| = ${worst.toExponential(2)}`,
      );
      // float32 forward and backward on both sides, in different summation orders: a few e-7 of the
      // largest element measured; 2e-6 leaves room for other drivers
      const tol = () => 2e-6 * scale;
      assertWithin(t, fixed.diag, cpu.diag, tol, `${what}: diag with the CPU's labels`);
      assertWithin(t, sampled.diag, cpu.diag, tol, `${what}: diag with labels sampled on the device`);
      // and per parameter, relative to that parameter's own largest element, so the small gradients
      // deep in the network (layer 0, the embeddings) are checked as well
      for (const e of model.layout.entries) {
        let m = 0;
        for (let i = e.offset; i < e.offset + e.size; i++) m = Math.max(m, cpu.diag[i]);
        t.ok(m > 0, `${e.name}: the estimate is not trivially zero`);
        let w = 0;
        for (let i = e.offset; i < e.offset + e.size; i++)
          w = Math.max(w, Math.abs(fixed.diag[i] - cpu.diag[i]));
        t.ok(w <= 2e-5 * m, `${e.name}: max error ${(w / m).toExponential(2)} of its largest element`);
      }
      for (const a of arrays) a.free();
    });
  }

  t.test('bad arguments are refused before any work', async (t) => {
    const spec: GptSpec = { kind: 'gpt', vocabSize: 5, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 4 };
    const P = dev.upload(new Float32Array(gpt(spec).layout.size));
    const X = dev.upload(new Float32Array(8));
    const U = dev.upload(new Float32Array(8));
    const common = { spec, params: P, tokens: X, batch: 2 };
    await t.rejects(gptGnbProbe(dev, { ...common, T: 5, uniforms: U }), /T 5 exceeds blockSize 4/);
    await t.rejects(gptGnbProbe(dev, { ...common, T: 4 }), /give labels or uniforms/);
    await t.rejects(gptGnbProbe(dev, { ...common, batch: 3, T: 4, uniforms: U }), /tokens has 8 elements/);
    for (const a of [P, X, U]) a.free();
  });
}
