/**
 * The probe host's routing for the GPT (src/gpu/host/probe-host.ts): a GNB estimate runs on the device and
 * equals the CPU's `estimateCurvature`, with labels drawn on the device or, when a draw is too close
 * to a class boundary, redrawn from the CPU's logits; the GPT's Hutchinson estimate and unusable
 * batches stay on the CPU, bit for bit, and say so. Skips the device tests, saying why, when no WebGPU
 * adapter answers.
 */
import t from 'tap';
import type { Batch } from '../../src/data/batch.js';
import { GpuProbeHost, deviceProbeProblem } from '../../src/gpu/host/probe-host.js';
import { initialParams } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { rng } from '../../src/random/counter-rng.js';
import { estimateCurvature, resolveCurvature } from '../../src/step/curvature-schedule.js';
import { firstBitDifference } from '../pipeline/fixtures.js';
import { assertWithin } from './fixtures/helpers.js';

const SEED = 11;
const gnb = resolveCurvature({ estimator: 'gnb' });
const hutchinson = resolveCurvature({ estimator: 'hutchinson' });
const hvpPair = resolveCurvature({ estimator: 'hvp-pair' });
const model = buildModel({ kind: 'gpt', vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8 });
const params = initialParams(model, 5) as Float32Array;
{
  const r = rng(5, 'probe-host-gpt', 'perturb');
  for (let i = 0; i < params.length; i++) params[i] += 0.3 * (r.uniform() - 0.5);
}

function tokenBatch(step: number, B = 3, T = 8): Batch {
  const r = rng(SEED, 'probe-host-gpt', 'tokens', step);
  const ids = () => Int32Array.from({ length: B * T }, () => Math.floor(r.uniform() * 11));
  return { inputs: ids(), inputShape: [B, T], targets: ids(), targetShape: [B, T], step };
}

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

// Opened before any test starts (tap ends the file once its tests are done); both share the
// process's one device. `redraw` treats every draw as uncertain (margin 1).
const host = new GpuProbeHost({ preference: 'webgpu' });
const redraw = new GpuProbeHost({ preference: 'webgpu', labelMargin: 1 });
t.teardown(async () => {
  await host.close();
  await redraw.close();
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
});
const batch1 = tokenBatch(1);
const first = await host.estimate(gnb, model, params, batch1, SEED, 1);
const skip = first.backend === 'webgpu' ? false : `no WebGPU device: ${first.notes.join(' | ')}`;

t.test('deviceProbeProblem for the GPT', async (t) => {
  t.equal(deviceProbeProblem(gnb, model, tokenBatch(2)), null, 'GNB on token windows: the device');
  t.equal(deviceProbeProblem(gnb, model, tokenBatch(2, 2, 3)), null, 'a short window (T < blockSize) too');
  t.match(
    deviceProbeProblem(hutchinson, model, tokenBatch(2)),
    /"gpt".*GNB probe only; its Hutchinson probes run on the CPU/,
  );
  t.match(deviceProbeProblem(gnb, model, tokenBatch(2, 1, 9)), /token ids \[batch, T ≤ 8\]/);
  const bad = tokenBatch(2);
  bad.inputs[4] = 11;
  t.match(deviceProbeProblem(gnb, model, bad), /token ids in \[0, 11\)/);
  t.match(deviceProbeProblem(hvpPair, model, tokenBatch(2)), /hvp-pair probe runs on the CPU/);
  t.match(
    deviceProbeProblem({ ...gnb, estimator: 'gnb-gradient' }, model, tokenBatch(2)),
    /gnb-gradient probe runs on the CPU/,
  );
});

t.test('an hvp-pair estimate through the host comes from the CPU, bit for bit', async (t) => {
  const b = tokenBatch(3);
  const got = await host.estimate(hvpPair, model, params, b, SEED, 3);
  t.equal(got.backend, 'cpu');
  const want = estimateCurvature(hvpPair, model, params, b, SEED, 3);
  t.equal(got.estimate.diag.length, 0, 'no diagonal');
  t.equal(firstBitDifference(got.estimate.pair!.v, want.pair!.v), -1, 'v');
  t.equal(firstBitDifference(got.estimate.pair!.hv, want.pair!.hv), -1, 'H·v');
});

t.test('GPT GNB on the device through the host', { skip }, async (t) => {
  t.equal(first.backend, 'webgpu', 'the estimate comes from the device');
  const want = estimateCurvature(gnb, model, params, batch1, SEED, 1).diag;
  const tol = () => 2e-6 * maxAbs(want);
  assertWithin(t, first.estimate.diag, want, tol, 'device estimate = CPU estimate');
  t.equal(first.estimate.launchedAt, 1);
  t.comment(`labels redrawn from the CPU logits: ${host.labelRedraws} (margin 1e-4)`);

  // a short window, and a redraw of every label from the CPU's logits
  const b2 = tokenBatch(2, 2, 5);
  const r = await redraw.estimate(gnb, model, params, b2, SEED, 2);
  t.equal(r.backend, 'webgpu');
  t.equal(redraw.labelRedraws, 1, 'margin 1 makes every draw uncertain: labels redrawn from the CPU');
  const want2 = estimateCurvature(gnb, model, params, b2, SEED, 2).diag;
  assertWithin(t, r.estimate.diag, want2, () => 2e-6 * maxAbs(want2), 'redrawn-label estimate = CPU');

  // Hutchinson on the GPT: the CPU, bit for bit, and the note says where it ran
  const h = await host.estimate(hutchinson, model, params, b2, SEED, 3);
  t.equal(h.backend, 'cpu');
  t.match(h.notes.join('\n'), /GNB probe only; its Hutchinson probes run on the CPU/);
  const wantH = estimateCurvature(hutchinson, model, params, b2, SEED, 3).diag;
  t.equal(firstBitDifference(h.estimate.diag, wantH), -1, 'the CPU Hutchinson estimate');
  t.equal(host.device?.usable, true, 'the device is still in use');
});
