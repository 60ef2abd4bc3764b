/**
 * The probe worker with a GPU (src/workers/probe-worker.ts + src/gpu/host/probe-host.ts): its GNB and
 * Hutchinson estimates of a tanh MLP, computed on WebGPU, equal the CPU's `estimateCurvature` on the
 * same (θ, batch, seed, step) within float32 tolerance; an
 * injected device failure (a throwing kernel, a lost device) is answered by the CPU estimate, reported
 * once, and every later probe stays on the CPU. Skips, saying why, when no WebGPU adapter answers in
 * the worker.
 */
import t from 'tap';
import { estimateCurvature, resolveCurvature } from '../../src/step/curvature-schedule.js';
import type { ProbeResponse } from '../../src/workers/protocol.js';
import { firstBitDifference } from '../pipeline/fixtures.js';
import { assertWithin } from './fixtures/helpers.js';
import { batchOf, maxAbs, model, params0, probePool } from './fixtures/tanh-mlp.js';

const SEED = 21;
const gnb = resolveCurvature({ estimator: 'gnb' });
const hutchinson = resolveCurvature({ estimator: 'hutchinson', probes: 2 });

/** θ moved away from the initialisation, differently per step, so every probe sees other parameters. */
function paramsAt(step: number): Float32Array {
  return params0.map((v, i) => v + 0.05 * Math.sin(0.37 * i + step));
}

function probe(pool: ReturnType<typeof probePool>, step: number, estimator: 'gnb' | 'hutchinson' = 'gnb') {
  return pool.probe({
    estimator,
    step,
    seed: SEED,
    probes: estimator === 'hutchinson' ? 2 : 1,
    params: paramsAt(step),
    batch: batchOf(step),
  });
}

const cpuGnb = (step: number) =>
  estimateCurvature(gnb, model, paramsAt(step), batchOf(step), SEED, step).diag;

/** Why the GPU tests cannot run: the worker's own account of its backend, when it is not WebGPU. */
function skipReason(r: ProbeResponse): string | null {
  if (r.backend === 'webgpu') return null;
  return `the probe worker has no WebGPU device: ${(r.notes ?? ['(no notes)']).join(' | ')}`;
}

const pool = probePool('webgpu');
t.teardown(() => pool.close());
const first = await probe(pool, 0);
const skip = skipReason(first) ?? false;

t.test('GNB on WebGPU in the probe worker equals the CPU estimate', { skip }, async (t) => {
  t.match(first.notes?.join('\n') ?? '', /backend webgpu: WebGPU adapter/, 'backend choice noted once');
  for (const step of [0, 4, 10]) {
    const got = step === 0 ? first : await probe(pool, step);
    const want = cpuGnb(step);
    t.equal(got.backend, 'webgpu', `step ${step}: computed on the device`);
    if (step > 0) t.notOk(got.notes, `step ${step}: nothing more to note`);
    const scale = maxAbs(want);
    t.ok(scale > 0, `step ${step}: a nonzero estimate`);
    assertWithin(t, got.diag, want, () => 1e-5 * scale, `step ${step}: diag within 1e-5·max|diag|`);
  }
  // Hutchinson (two directions): z⊙Hz, loss and gradient on the device, the CPU's Rademacher draws.
  const h = await probe(pool, 6, 'hutchinson');
  const want = estimateCurvature(hutchinson, model, paramsAt(6), batchOf(6), SEED, 6);
  t.equal(h.backend, 'webgpu', 'hutchinson computed on the device');
  const d = maxAbs(want.diag);
  assertWithin(t, h.diag, want.diag, () => 1e-5 * d, 'hutchinson diag within 1e-5·max|diag|');
  const g = maxAbs(want.grad!);
  assertWithin(t, h.grad!, want.grad!, () => 1e-5 * g, 'hutchinson grad within 1e-5·max|grad|');
  t.ok(Math.abs(h.loss! - want.loss!) <= 1e-6 * want.loss!, `hutchinson loss ${h.loss} vs ${want.loss}`);
  const again = await probe(pool, 8);
  t.equal(again.backend, 'webgpu', 'GNB still on the device afterwards');
});

for (const mode of ['throw', 'lose'] as const) {
  t.test(`an injected GPU failure (${mode}) falls back to the CPU estimate for good`, { skip }, async (t) => {
    const pool = probePool('webgpu', { step: 4, mode });
    t.teardown(() => pool.close());
    const first = await probe(pool, 2);
    const scale = maxAbs(cpuGnb(2));
    assertWithin(t, first.diag, cpuGnb(2), () => 1e-5 * scale, 'step 2 on the device');
    const failed = await probe(pool, 4);
    t.equal(failed.backend, 'cpu', 'step 4 computed on the CPU');
    t.equal(failed.error, null, 'no error reaches the coordinator');
    t.equal(failed.notes?.length, 1, 'the fallback is reported once');
    t.match(
      failed.notes?.[0] ?? '',
      mode === 'throw'
        ? /GPU disabled, continuing on the CPU — GNB probe of step 4 failed: injected GPU failure at step 4/
        : /GPU disabled, continuing on the CPU — GNB probe of step 4 failed/,
    );
    t.equal(firstBitDifference(failed.diag, cpuGnb(4)), -1, 'step 4: exactly the CPU estimate');
    const later = await probe(pool, 6);
    t.equal(later.backend, 'cpu', 'step 6 stays on the CPU');
    t.notOk(later.notes, 'nothing logged again');
    t.equal(firstBitDifference(later.diag, cpuGnb(6)), -1, 'step 6: exactly the CPU estimate');
  });
}
