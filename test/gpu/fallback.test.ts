/**
 * GPU → CPU fallback (src/gpu/host/fallback.ts): a failing GPU computation (a thrown error, a WebGPU
 * validation error reported through an error scope, a destroyed device) is answered by the CPU form,
 * the reason is logged once through the injected logger, and every later call stays on the CPU. The
 * ready-made MLP probe and Sophia-G step agree with the CPU on a healthy device. The device is
 * destroyed by the last test of this file (one device per process).
 */
import t from 'tap';
import { sophiaGStepHost } from '../../bench/device-updates/fallback-step.js';
import { GpuFallback, mlpGnbDiag, withCpuFallback } from '../../src/gpu/host/fallback.js';
import { initialParams } from '../../src/nn/model.js';
import { mlp } from '../../src/nn/models/mlp.js';
import { assertWithin, awayF32, closeAtEnd, openDevice, randF32 } from './fixtures/helpers.js';

const sizes = [7, 9, 3];
const rows = 11;
const probe = () => ({
  sizes,
  params: initialParams(mlp({ kind: 'mlp', sizes, activation: 'tanh' }), 3) as Float32Array,
  inputs: { data: randF32(rows * sizes[0], -1, 1, 3, 'x'), shape: [rows, sizes[0]] as [number, number] },
  seed: 3,
  step: 2,
});
const sophiaOpts = { lr: 0.02, weightDecay: 0.1, b1: 0.965, b2: 0.99, rho: 0.04, batchSize: 16 };
const sophiaState = (d: number) => ({
  theta: randF32(d, -1, 1, 5, 'theta'),
  m: awayF32(d, 1e-3, 0.1, 5, 'm'),
  h: randF32(d, 0, 1, 5, 'h'),
});

t.test('without a device: the CPU answers, the reason is logged once', async (t) => {
  const logs: string[] = [];
  const fb = new GpuFallback(null, (m) => logs.push(m), 'no adapter in this test');
  const a = await mlpGnbDiag(fb, probe());
  const b = await mlpGnbDiag(fb, probe());
  t.same(Array.from(a.diag), Array.from(b.diag));
  t.equal(logs.length, 1, 'one log line');
  t.match(logs[0], /no adapter in this test/);
  t.equal(fb.usable, false);
});

t.test('a throwing GPU computation falls back, and later calls stay on the CPU', async (t) => {
  const logs: string[] = [];
  const fake = {
    usable: true,
    lost: false,
    device: { pushErrorScope() {}, popErrorScope: async () => null },
  };
  const fb = new GpuFallback(fake as never, (m) => logs.push(m));
  let gpuCalls = 0;
  const gpu = async () => {
    gpuCalls++;
    throw new Error('kernel exploded');
  };
  t.equal(await withCpuFallback(fb, 'test kernel', gpu, () => 42), 42);
  t.equal(await withCpuFallback(fb, 'test kernel', gpu, () => 43), 43);
  t.equal(gpuCalls, 1, 'the GPU is not tried again');
  t.equal(logs.length, 1);
  t.match(logs[0], /test kernel failed: kernel exploded/);
  t.match(fb.reason, /kernel exploded/);
});

const opened = await openDevice();
if ('skip' in opened) {
  t.test('fallback on a real device', { skip: opened.skip }, () => {});
} else {
  const dev = opened.device;
  closeAtEnd(t, dev);

  t.test('healthy device: the GPU forms agree with the CPU forms', async (t) => {
    const logs: string[] = [];
    const gpu = new GpuFallback(dev, (m) => logs.push(m));
    const cpu = new GpuFallback(null, () => {});
    const p = probe();
    const [a, b] = [await mlpGnbDiag(gpu, p), await mlpGnbDiag(cpu, p)];
    t.same(Array.from(a.sampled), Array.from(b.sampled), 'sampled labels');
    let scale = 0;
    for (const v of b.diag) scale = Math.max(scale, v);
    assertWithin(t, a.diag, b.diag, (i) => 1e-5 * b.diag[i] + 1e-7 * scale, 'probe diag');
    const d = 1025;
    const [sg, sc] = [sophiaState(d), sophiaState(d)];
    const g = awayF32(d, 1e-3, 1, 5, 'g');
    const hHat = randF32(d, 0, 2, 5, 'hhat');
    await sophiaGStepHost(gpu, sg, g, { ...sophiaOpts, hessianDiag: hHat });
    await sophiaGStepHost(cpu, sc, g, { ...sophiaOpts, hessianDiag: hHat });
    assertWithin(t, sg.theta, sc.theta, (i) => 1e-5 * Math.max(Math.abs(sc.theta[i]), 1e-2), 'Sophia-G θ');
    assertWithin(t, sg.h, sc.h, (i) => 1e-5 * sc.h[i] + 1e-7, 'Sophia-G h');
    t.equal(logs.length, 0, 'nothing logged');
    t.equal(gpu.usable, true);
  });

  t.test('a WebGPU validation error (reported asynchronously) falls back', async (t) => {
    const logs: string[] = [];
    const fb = new GpuFallback(dev, (m) => logs.push(m));
    const got = await fb.run(
      'bad kernel',
      async (d) => {
        d.device.createBuffer({ size: 6, usage: 0 }); // invalid: no usage, size not a multiple of 4
        return 'gpu';
      },
      () => 'cpu',
    );
    t.equal(got, 'cpu');
    t.equal(logs.length, 1);
    t.match(logs[0], /bad kernel failed: WebGPU error/);
    t.equal(dev.usable, true, 'the device itself is still fine (only this fallback gave up on it)');
  });

  t.test('a destroyed device: the probe and the update continue on the CPU', async (t) => {
    const logs: string[] = [];
    const fb = new GpuFallback(dev, (m) => logs.push(m));
    const cpu = new GpuFallback(null, () => {});
    dev.device.destroy(); // as a device loss
    const p = probe();
    const a = await mlpGnbDiag(fb, p);
    const b = await mlpGnbDiag(cpu, p);
    t.same(Array.from(a.diag), Array.from(b.diag), 'probe answered by gnbDiag');
    const d = 70;
    const [s1, s2] = [sophiaState(d), sophiaState(d)];
    const g = awayF32(d, 1e-3, 1, 6, 'g');
    await sophiaGStepHost(fb, s1, g, sophiaOpts);
    await sophiaGStepHost(cpu, s2, g, sophiaOpts);
    t.same(Array.from(s1.theta), Array.from(s2.theta), 'update answered by src/optim sophiaG');
    t.equal(logs.length, 1, 'one log line');
    t.match(logs[0], /GPU disabled, continuing on the CPU/);
    t.equal(fb.usable, false);
  });
}
