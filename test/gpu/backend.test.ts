/**
 * GPU backend selection: 'cpu' always works, 'auto' reports what it chose and why, an explicit choice
 * that cannot be honoured throws a clear Error, and unknown names are refused.
 */
import t from 'tap';
import { selectGpuBackend, type GpuPreference } from '../../src/gpu/host/backend.js';

t.test("'cpu' always works", async (t) => {
  const s = await selectGpuBackend('cpu');
  t.equal(s.kind, 'cpu');
  t.match(s.reason, /cpu/i);
  t.equal(s.adapter, undefined);
});

t.test("an explicit 'webgpu' with no adapter throws and says why", async (t) => {
  await t.rejects(
    selectGpuBackend('webgpu', { webgpu: { sources: [] } }),
    /gpu: "webgpu" requested but no WebGPU adapter answered: WebGPU disabled/,
  );
});

t.test('unknown backends are refused by name', async (t) => {
  await t.rejects(
    selectGpuBackend('cuda' as GpuPreference),
    /unknown backend "cuda"; use one of "auto", "webgpu", "webasm", "cpu"/,
  );
});

t.test("'auto' picks a backend and reports why", async (t) => {
  const s = await selectGpuBackend('auto');
  t.ok(['webgpu', 'cpu'].includes(s.kind), `chose ${s.kind}`);
  t.match(s.reason, /^auto: /);
  if (s.kind === 'webgpu') {
    t.ok(s.adapter, 'a WebGPU choice names its adapter');
    if (!process.env.HESSFLOW_WEBGPU)
      t.equal(s.adapter?.source, 'native', "auto takes only a real GPU's adapter");
  } else {
    t.match(s.reason, /no WebGPU adapter/, 'a non-WebGPU choice says why WebGPU was passed over');
  }
  t.comment(`auto → ${s.kind}: ${s.reason}`);
});

t.test("'auto' without any WebGPU takes the CPU kernels, not gpu.js's slower WebAssembly ones", async (t) => {
  const s = await selectGpuBackend('auto', { webgpu: { sources: [] } });
  t.equal(s.kind, 'cpu');
  t.match(s.reason, /no WebGPU adapter \(WebGPU disabled/);
  t.match(s.reason, /the CPU kernels \(gpu\.js's WebAssembly ones are slower; ask for gpu: "webasm"/);
});

t.test("an explicit 'webasm' works here (gpu.js WebAssembly runs in Node)", async (t) => {
  const s = await selectGpuBackend('webasm');
  t.equal(s.kind, 'webasm');
  t.match(s.reason, /self-check/);
});

t.test("'webgpu' on this machine: an adapter (real or software) or a clear error", async (t) => {
  try {
    const s = await selectGpuBackend('webgpu');
    t.equal(s.kind, 'webgpu');
    t.ok(s.adapter && (s.adapter.device || s.adapter.description), 'the adapter is described');
    t.comment(`webgpu → ${s.reason}`);
  } catch (e) {
    t.match((e as Error).message, /gpu: "webgpu" requested but no WebGPU adapter answered: .+/);
    t.comment(`no WebGPU here: ${(e as Error).message}`);
  }
});

t.teardown(() => {
  // Dawn instances created while probing adapters must not hold the process open
  setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
});
