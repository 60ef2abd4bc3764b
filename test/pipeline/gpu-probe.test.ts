/**
 * The pipeline with `gpu: 'webgpu'` (the probe worker computes Sophia-G's GNB estimates on the device)
 * trains a 20-16-3 tanh MLP to the same loss curve as with `gpu: 'cpu'`; steps applying an estimate
 * report the backend that computed it; an injected device failure is logged and reported, and training
 * continues on the CPU estimates. Skips, saying why, when the probe worker gets no WebGPU adapter.
 * With `gpu: 'webasm'` the estimates come from gpu.js's WebAssembly kernels, to the same curve.
 */
import t, { type Test } from 'tap';
import { lastValueFrom, toArray } from 'rxjs';
import { sophiaG, sophiaH } from '../../src/optim/index.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import type { PipelineConfig } from '../../src/pipeline/config.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import type { StepMetrics } from '../../src/step/records.js';
import { assertWithin } from '../gpu/fixtures/helpers.js';
import { batchOf, maxAbs, modelSpec, params0, spec } from '../gpu/fixtures/tanh-mlp.js';

const STEPS = 20;
const EVERY = 2;

async function train(extra: Partial<PipelineConfig>): Promise<{
  metrics: StepMetrics[];
  params: Float32Array;
  logs: string[];
}> {
  const logs: string[] = [];
  const p = createPipeline({
    model: modelSpec,
    optimizer: sophiaG({ lr: 0.02, rho: 0.05 }),
    seed: 3,
    shards: 2,
    workers: 1,
    batchSpec: spec,
    initialParams: params0,
    curvature: { estimator: 'gnb', every: EVERY },
    log: (line) => logs.push(line),
    ...extra,
  });
  try {
    const metrics = await lastValueFrom(p.run(fromDataset(batchOf, { end: STEPS })).pipe(toArray()));
    return { metrics, params: p.params(), logs };
  } finally {
    await p.close();
  }
}

type Run = Awaited<ReturnType<typeof train>>;

/** `run` follows `ref`: every step's loss within 1e-4 relative and the final θ within 1e-4·max|θ|. */
function sameCurve(t: Test, run: Run, ref: Run, what = 'every step’s loss within 1e-4 relative'): void {
  assertWithin(
    t,
    run.metrics.map((m) => m.loss),
    ref.metrics.map((m) => m.loss),
    (i) => 1e-4 * Math.abs(ref.metrics[i].loss),
    what,
  );
  const scale = maxAbs(ref.params);
  assertWithin(t, run.params, ref.params, () => 1e-4 * scale, 'final θ within 1e-4·max|θ|');
}

const cpu = await train({ gpu: 'cpu' });
const applied = (m: StepMetrics[]) => m.filter((x) => x.curvatureStaleness !== undefined).map((x) => x.step);

t.test('gpu "cpu": no backend reported, nothing logged', async (t) => {
  t.equal(cpu.metrics.length, STEPS);
  t.same(applied(cpu.metrics), [2, 4, 6, 8, 10, 12, 14, 16, 18], 'estimates applied every 2 steps');
  t.notOk(cpu.metrics.some((m) => m.probeBackend !== undefined || m.probeNotes !== undefined));
  t.same(cpu.logs, []);
});

const gpu = await train({ gpu: 'webgpu' });
const noDevice = gpu.logs.some((l) => /backend webgpu/.test(l))
  ? null
  : `the probe worker got no WebGPU device: ${gpu.logs.join(' | ')}`;

t.test('gpu "webgpu" trains to the same loss curve as gpu "cpu"', { skip: noDevice ?? false }, async (t) => {
  t.equal(gpu.metrics.length, STEPS);
  t.same(applied(gpu.metrics), applied(cpu.metrics), 'same curvature schedule');
  t.notOk(
    gpu.metrics.some((m) => m.skipped),
    'no step skipped',
  );
  sameCurve(t, gpu, cpu);
  // The runs must actually train, or equal curves would prove nothing.
  t.ok(cpu.metrics[STEPS - 1].loss < 0.9 * cpu.metrics[0].loss, 'the loss falls');
  for (const m of gpu.metrics) {
    if (m.curvatureStaleness === undefined) t.equal(m.probeBackend, undefined, `step ${m.step}: no estimate`);
    else t.equal(m.probeBackend, 'webgpu', `step ${m.step}: estimate computed on the device`);
  }
  t.match(gpu.metrics[EVERY].probeNotes?.join('\n') ?? '', /backend webgpu/, 'the choice is reported once');
  t.equal(gpu.metrics.filter((m) => m.probeNotes).length, 1);
  t.equal(gpu.logs.length, 1, 'one log line: the backend and why');
});

t.test(
  'an injected GPU failure falls back to the CPU; training continues',
  { skip: noDevice ?? false },
  async (t) => {
    const failing = await train({ gpu: 'webgpu', injectFailures: { gpu: { step: 8, mode: 'throw' } } });
    t.equal(failing.metrics.length, STEPS, 'every step trained');
    t.notOk(
      failing.metrics.some((m) => m.skipped),
      'no step skipped',
    );
    t.same(
      failing.metrics.filter((m) => m.probeBackend).map((m) => `${m.step}:${m.probeBackend}`),
      ['2:webgpu', '4:webgpu', '6:webgpu', '8:cpu', '10:cpu', '12:cpu', '14:cpu', '16:cpu', '18:cpu'],
    );
    t.match(
      failing.metrics[8].probeNotes?.join('\n') ?? '',
      /GNB probe of step 8 failed: injected GPU failure/,
    );
    t.equal(failing.logs.length, 2, 'backend line, then the fallback line');
    t.match(failing.logs[1], /GPU disabled, continuing on the CPU/);
    // From step 8 on every estimate is the CPU's: the drift from the CPU run stops growing from the GPU.
    sameCurve(t, failing, cpu, 'loss curve still the CPU run’s within 1e-4');
  },
);

t.test(
  'Sophia-H with Hutchinson on the device: same loss curve as on the CPU',
  { skip: noDevice ?? false },
  async (t) => {
    // The probe's loss and gradient are the step's on launch steps, so those come from the device too.
    const sophiaHRun = (gpuPref: 'cpu' | 'webgpu') =>
      train({
        gpu: gpuPref,
        optimizer: sophiaH({ lr: 0.02 }),
        curvature: { estimator: 'hutchinson', every: 2, first: 0 },
      });
    const [h, c] = [await sophiaHRun('webgpu'), await sophiaHRun('cpu')];
    t.notOk(
      h.metrics.some((m) => m.skipped),
      'no step skipped',
    );
    t.same(
      h.metrics.filter((m) => m.probeBackend).map((m) => m.step),
      c.metrics.filter((m) => m.curvatureStaleness !== undefined).map((m) => m.step),
      'every applied estimate reports its backend',
    );
    t.ok(
      h.metrics.every((m) => m.probeBackend === undefined || m.probeBackend === 'webgpu'),
      'all on the device',
    );
    sameCurve(t, h, c);
    t.ok(c.metrics[STEPS - 1].loss < 0.9 * c.metrics[0].loss, 'the loss falls');
  },
);

t.test('gpu "webasm": estimates by gpu.js\'s WebAssembly kernels train the same loss curve', async (t) => {
  const w = await train({ gpu: 'webasm' });
  if (w.logs.some((l) => /gpu\.js's WebAssembly backend is unavailable/.test(l))) {
    t.pass('gpu.js WebAssembly unavailable here: estimates from the CPU', { skip: w.logs.join(' | ') });
    return;
  }
  t.same(applied(w.metrics), applied(cpu.metrics), 'same curvature schedule');
  for (const m of w.metrics)
    if (m.curvatureStaleness !== undefined) t.equal(m.probeBackend, 'webasm', `step ${m.step}: gpu.js`);
  t.match(w.logs.join('\n'), /probe runs on gpu\.js's WebAssembly kernels/);
  sameCurve(t, w, cpu);
});
