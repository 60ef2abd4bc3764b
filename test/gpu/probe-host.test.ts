/**
 * The probe host's label check and routing (src/gpu/probes/labels.ts, src/gpu/host/probe-host.ts), in this
 * thread: `uncertainDraws` against closed-form boundaries and the CPU's own `sampleLabels`; the host
 * redraws labels from the CPU's logits when a draw is too close to a boundary and still matches the CPU
 * estimate; models the device does not cover are computed by the CPU bit for bit. The device tests skip,
 * saying why, when no WebGPU adapter answers.
 */
import t from 'tap';
import { sampleLabels } from '../../src/curvature/gnb-diag.js';
import { GpuProbeHost } from '../../src/gpu/host/probe-host.js';
import { activeKernelBackend } from '../../src/kernels/registry.js';
import { uncertainDraws } from '../../src/gpu/probes/labels.js';
import { initialParams } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { rng } from '../../src/random/counter-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { estimateCurvature, resolveCurvature } from '../../src/step/curvature-schedule.js';
import { firstBitDifference } from '../pipeline/fixtures.js';
import { assertWithin } from './fixtures/helpers.js';
import { batchOf, maxAbs, model, params0 } from './fixtures/tanh-mlp.js';

const SEED = 8;
const gnb = resolveCurvature({ estimator: 'gnb' });

// Opened before any test starts: tap ends the file once its tests are done.
const host = new GpuProbeHost({ preference: 'webgpu', labelMargin: 1 });
t.teardown(async () => {
  await host.close();
  // Dawn can keep a process alive: an unref'd timer ends it if anything native still holds the loop.
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
});
const batch = batchOf(1);
const first = await host.estimate(gnb, model, params0, batch, SEED, 1);
const skip = first.backend === 'webgpu' ? false : `no WebGPU device: ${first.notes.join(' | ')}`;

t.test('uncertainDraws: closed-form boundaries', async (t) => {
  // Two equal logits: the boundary is at u = 1/2; u = 1/4 lies 1/4 of the mass away from it.
  const logits = new Float32Array([0, 0, 0, 0]);
  const labels = new Int32Array([0, 1]);
  t.same(uncertainDraws(logits, new Float64Array([0.25, 0.75]), labels, 2, 1e-4), [], 'far from it');
  t.same(uncertainDraws(logits, new Float64Array([0.25, 0.75]), labels, 2, 0.3), [0, 1], 'margin 0.3');
  t.same(uncertainDraws(logits, new Float64Array([0.5, 0.75]), labels, 2, 1e-12), [0], 'on the boundary');
  t.same(
    uncertainDraws(logits, new Float64Array([0.25, 0.75]), new Int32Array([1, 1]), 2, 0),
    [0],
    'label 1 for u = 1/4 is wrong',
  );
  t.throws(() => uncertainDraws(logits, new Float64Array(3), labels, 2, 0), /3 uniforms need 6 logits/);
});

t.test('uncertainDraws agrees with the CPU sampleLabels on random logits', async (t) => {
  const rows = 500;
  const classes = 7;
  const logits = rng(3, 'labels-test').fillNormal(new Float32Array(rows * classes), 0, 3);
  const cpu = sampleLabels(new Tensor(logits, [rows, classes]), classes, 5, 9);
  const r = rng(5, 'gnb-labels', 9);
  const u = Float64Array.from({ length: rows }, () => r.uniform());
  t.same(uncertainDraws(logits, u, cpu, classes, 0), [], 'the CPU labels pass with margin 0');
  const wrong = cpu.slice();
  wrong[17] = (wrong[17] + 1) % classes;
  t.same(uncertainDraws(logits, u, wrong, classes, 0), [17], 'a changed label is caught');
  const flagged = uncertainDraws(logits, u, cpu, classes, 1e-2).length;
  // Each row has classes − 1 interior boundaries, each flagging a band of width 2·1e-2 of the mass.
  t.ok(flagged > 0 && flagged < rows * 2 * 1e-2 * (classes - 1) * 2, `${flagged} rows within 1e-2`);
});

t.test('the host on WebGPU', { skip }, async (t) => {
  const want = estimateCurvature(gnb, model, params0, batch, SEED, 1).diag;
  t.equal(host.labelRedraws, 1, 'margin 1 makes every draw uncertain: labels redrawn from the CPU logits');
  const scale = maxAbs(want);
  assertWithin(t, first.estimate.diag, want, () => 1e-5 * scale, 'redrawn-label estimate = CPU');

  // A relu MLP is not covered by the device probe: the CPU computes it, bit for bit, and says why.
  const relu = buildModel({ kind: 'mlp', sizes: [20, 16, 3], activation: 'relu' });
  const p = initialParams(relu, 2) as Float32Array;
  const r = await host.estimate(gnb, relu, p, batch, SEED, 3);
  t.equal(r.backend, 'cpu');
  t.match(r.notes.join('\n'), /covers tanh MLPs; model "mlp" with activation "relu"/);
  t.equal(firstBitDifference(r.estimate.diag, estimateCurvature(gnb, relu, p, batch, SEED, 3).diag), -1);
  t.equal(host.device?.usable, true, 'the device is still in use');
});

t.test('preference "cpu": no device, no notes, the CPU estimate', async (t) => {
  const host = new GpuProbeHost({ preference: 'cpu' });
  const batch = batchOf(2);
  const r = await host.estimate(gnb, model, params0, batch, SEED, 2);
  t.equal(r.backend, 'cpu');
  t.same(r.notes, []);
  t.equal(host.device, null);
  t.equal(
    firstBitDifference(r.estimate.diag, estimateCurvature(gnb, model, params0, batch, SEED, 2).diag),
    -1,
  );
});

t.test('no usable backend: the CPU estimate, and the reason noted once', async (t) => {
  const b = batchOf(4);
  const want = estimateCurvature(gnb, model, params0, b, SEED, 4).diag;
  // An explicit "webgpu" that cannot be had (WebGPU switched off) is noted, never a stopped run.
  const saved = process.env.HESSFLOW_WEBGPU;
  process.env.HESSFLOW_WEBGPU = 'off';
  try {
    const off = new GpuProbeHost({ preference: 'webgpu' });
    const r = await off.estimate(gnb, model, params0, b, SEED, 4);
    t.equal(r.backend, 'cpu');
    t.match(r.notes, [/probe worker continues on the CPU — gpu: "webgpu" requested but no WebGPU adapter/]);
    t.equal(firstBitDifference(r.estimate.diag, want), -1, 'the CPU estimate');
    t.same((await off.estimate(gnb, model, params0, b, SEED, 4)).notes, [], 'noted once');
  } finally {
    if (saved === undefined) delete process.env.HESSFLOW_WEBGPU;
    else process.env.HESSFLOW_WEBGPU = saved;
  }
});

t.test('"webasm": the estimator on gpu.js\'s WebAssembly kernels, and the CPU after a failure', async (t) => {
  const b = batchOf(5);
  const hutch = resolveCurvature({ estimator: 'hutchinson', probes: 2 });
  const matmulBefore = activeKernelBackend('matmul'); // BLAS or wasm, whichever this machine prefers
  const wasm = new GpuProbeHost({ preference: 'webasm' });
  const w = await wasm.estimate(gnb, model, params0, b, SEED, 5);
  if (w.backend === 'cpu') {
    // gpu.js's WebAssembly mode failed its self-check here: the CPU estimate, and the reason.
    t.match(w.notes.join('\n'), /"webasm" requested but gpu\.js's WebAssembly backend is unavailable/);
    return;
  }
  t.equal(w.backend, 'webasm');
  t.match(
    w.notes.join('\n'),
    /probe runs on gpu\.js's WebAssembly kernels \(registry backend gpujs-webasm\)/,
  );
  for (const [c, name, r] of [
    [gnb, 'GNB', w],
    [hutch, 'Hutchinson', await wasm.estimate(hutch, model, params0, b, SEED, 6)],
  ] as const) {
    const step = c === gnb ? 5 : 6;
    const want = estimateCurvature(c, model, params0, b, SEED, step);
    t.equal(r.backend, 'webasm', `${name} on gpu.js`);
    t.not(firstBitDifference(r.estimate.diag, want.diag), -1, `${name}: float32 gpu.js, not the CPU's bits`);
    const scale = maxAbs(want.diag);
    assertWithin(t, r.estimate.diag, want.diag, () => 1e-5 * scale, `${name} estimate = CPU within float32`);
  }
  t.equal(activeKernelBackend('matmul'), matmulBefore, "this thread's kernels are restored after the probe");

  // A failing gpu.js probe: noted once; that estimate and all later ones are the CPU's, bit for bit.
  const failing = new GpuProbeHost({ preference: 'webasm', failOn: { mode: 'throw', step: 7 } });
  t.equal((await failing.estimate(gnb, model, params0, b, SEED, 6)).backend, 'webasm', 'step 6 is fine');
  for (const step of [7, 8]) {
    const r = await failing.estimate(gnb, model, params0, b, SEED, step);
    t.equal(r.backend, 'cpu', `step ${step} on the CPU`);
    const want = estimateCurvature(gnb, model, params0, b, SEED, step).diag;
    t.equal(firstBitDifference(r.estimate.diag, want), -1, `step ${step}: the CPU estimate`);
    if (step === 7)
      t.match(r.notes, [/gpu\.js probe of step 7 failed \(injected gpu\.js failure at step 7\)/]);
    else t.same(r.notes, [], 'noted once');
  }
});
