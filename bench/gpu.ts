/**
 * GPU benchmark: device-resident matmul (GFLOP/s), the fused optimizer updates (GB/s: the WGSL
 * Sophia-G step — the default path — beside the earlier gpu.js kernel, the EMA, the WGSL AdaHessian
 * step), the MLP Gauss-Newton-Bartlett probe and the full GNB probe of the reference char-GPT
 * (config/gpt-reference-sophiag.json's model and batch; ms) on the WebGPU device, each beside the CPU path
 * at a small size, with correctness spot checks. Writes <out>/gpu.json; exits 1 when a check fails or a result is not
 * finite, 2 when the benchmark itself cannot run.
 *
 *   node dist/bench/gpu.js --out DIR [--sizes 1024,2048,4096] [--ew 16777216] [--impls …]
 *                          [--probe 784,256,256,10] [--batch 128] [--cpu-n 512] [--gpt-config FILE] [--quick]
 *
 * Timing: every timed loop ends with a one-element readback, which waits for all queued GPU work,
 * so per-call times include the kernels, not just their submission. Data stays on the device.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceArray, MatmulImpl } from '../src/gpu/device/device.js';
import { UpdateDevice } from './device-updates/update-device.js';
import { selectGpuBackend } from '../src/gpu/host/backend.js';
import { describeAdapter } from '../src/gpu/device/webgpu-shim.js';
import type { GptSpec } from '../src/nn/model.js';
import { describeMachine, loadAverage } from './lib/machine.js';
import { RESULTS_SCHEMA, type Results, type Row, type Section } from './lib/types.js';
import { nonFinite } from './lib/validate.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const EPS32 = 2 ** -23;

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[key] = 'true';
    else {
      out[key] = next;
      i++;
    }
  }
  return out;
}

const nums = (s: string) => s.split(',').map((x) => Number(x.trim()));

/** Fast deterministic uniforms in [lo, hi) (xorshift32; data generation only). */
function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = lo + ((hi - lo) * x) / 4294967296;
  }
  return out;
}

async function timeIt(
  reps: number,
  body: () => Promise<void>,
  fence: () => Promise<unknown>,
): Promise<number> {
  await body(); // warm-up: builds kernels, first-use allocations
  await fence();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await body();
  await fence();
  return (performance.now() - t0) / reps;
}

const round = (v: number, d = 3) => (Number.isFinite(v) ? +v.toFixed(d) : v);

interface UpdateRow {
  path: string;
  d: number;
  ms?: number;
  bytesPerElement: number;
  GBps?: number;
  errOverTol?: number;
  error?: string;
}

/**
 * Times the device-resident updates over d floats: the WGSL Sophia-G step in place on separate θ, m
 * (24 B/element: read θ, m, h, g; write θ, m), the gpu.js Sophia-G kernel on an interleaved state
 * (same 24 B; it also allocates its output), the WGSL EMA in place (12 B) and the gpu.js EMA (12 B),
 * and the WGSL AdaHessian step (32 B: read θ, m, v, g, D; write θ, m, v). Each Sophia form is first
 * checked on one step from a known state against the float64 formula at sampled elements.
 */
async function benchUpdates(
  dev: UpdateDevice,
  x: {
    d: number;
    o: { lr: number; weightDecay: number; b1: number; rho: number; batchSize: number };
    theta: Float32Array;
    m0: Float32Array;
    g: Float32Array;
    h: Float32Array;
  },
  check: (name: string, ok: boolean, detail: string) => void,
): Promise<UpdateRow[]> {
  const { d, o, theta, m0, g, h } = x;
  const rows: UpdateRow[] = [];
  // WGSL steps are in place and cheap to submit: many reps keep the closing readback's share small
  const reps = d >= 1 << 22 ? 50 : 20;
  const wgslReps = 4 * reps;
  const gbps = (bytes: number, ms: number) => round((bytes * d) / (ms * 1e6), 1);
  const sample = Array.from({ length: Math.min(d, 4096) }, (_, s) =>
    s < 8 ? d - 1 - s : (s * 2654435761) % d,
  ).filter((i) => i >= 0);
  /** Worst err/tol of (θ, m) after one step from (theta, m0), against the formula with hyperparameters (lr, 1 − lr·wd, β1, 1 − β1, ρ·bs) as given. */
  const formulaErr = (t1: Float32Array, m1: Float32Array, hp: number[]) => {
    const [lr, decay, b1, omb1, rhoBs] = hp;
    let worst = 0;
    let finite = true;
    for (const i of sample) {
      const m = b1 * m0[i] + omb1 * g[i];
      const th = theta[i] * decay - lr * Math.sign(m) * Math.min(Math.abs(m) / (rhoBs * h[i] + 1e-15), 1);
      const mTol = 1e-5 * Math.abs(m) + 2 * EPS32 * (b1 * Math.abs(m0[i]) + omb1 * Math.abs(g[i]));
      if (!Number.isFinite(t1[i]) || !Number.isFinite(m1[i])) finite = false;
      worst = Math.max(
        worst,
        Math.abs(t1[i] - th) / (1e-5 * Math.max(Math.abs(th), 1e-2)),
        Math.abs(m1[i] - m) / mTol,
      );
    }
    return finite ? worst : Infinity;
  };
  const G = dev.upload(g);
  const H = dev.upload(h);
  const fail = (path: string, bytes: number, e: unknown) => {
    const msg = (e as Error).message.split('\n')[0];
    rows.push({ path, d, bytesPerElement: bytes, error: msg });
    check(path, false, msg);
  };
  // WGSL, separate buffers, in place (the default sophiaGStep path)
  try {
    const S = dev.sophiaGState(theta, m0);
    await dev.sophiaGStep(S, G, H, o);
    const s1 = await dev.splitState(S);
    const hp = [o.lr, 1 - o.lr * o.weightDecay, o.b1, 1 - o.b1, o.rho * o.batchSize].map(Math.fround);
    const err = formulaErr(s1.theta, s1.m, hp);
    const ms = await timeIt(
      wgslReps,
      () => dev.sophiaGStep(S, G, H, o).then(() => {}),
      () => dev.download(S.theta, 1),
    );
    const after = await dev.download(S.theta);
    const finite = after.every(Number.isFinite);
    rows.push({
      path: 'WebGPU WGSL fused Sophia-G (in place, vec4)',
      d,
      ms: round(ms, 4),
      bytesPerElement: 24,
      GBps: gbps(24, ms),
      errOverTol: round(err, 4),
    });
    check(
      'sophiaG WGSL step formula',
      err <= 1,
      `err/tol ${err.toFixed(3)} over ${sample.length} sampled elements`,
    );
    check(
      'sophiaG WGSL state finite after timing',
      finite,
      finite ? `${d} θ values finite` : 'non-finite values',
    );
    S.theta.free();
    S.m.free();
  } catch (e) {
    fail('WebGPU WGSL fused Sophia-G (in place, vec4)', 24, e);
  }
  // gpu.js, interleaved state, a new state per step (comparison)
  try {
    let S = await dev.sophiaState(theta, m0);
    const S1 = await dev.sophiaGStep(S, G, H, o);
    const s1 = await dev.splitState(S1);
    S1.free();
    const [b1, lr, wd, rhoBs] = [o.b1, o.lr, o.weightDecay, o.rho * o.batchSize].map(Math.fround);
    const err = formulaErr(s1.theta, s1.m, [lr, 1 - lr * wd, b1, 1 - b1, rhoBs]);
    const ms = await timeIt(
      reps,
      async () => {
        const next = await dev.sophiaGStep(S, G, H, o);
        S.free();
        S = next;
      },
      () => dev.download(S, 1),
    );
    rows.push({
      path: 'WebGPU gpu.js Sophia-G (interleaved θ,m; new state per step)',
      d,
      ms: round(ms, 4),
      bytesPerElement: 24,
      GBps: gbps(24, ms),
      errOverTol: round(err, 4),
    });
    check(
      'sophiaG gpu.js step formula',
      err <= 1,
      `err/tol ${err.toFixed(3)} over ${sample.length} sampled elements`,
    );
    S.free();
  } catch (e) {
    fail('WebGPU gpu.js Sophia-G (interleaved θ,m; new state per step)', 24, e);
  }
  // EMA: WGSL in place, gpu.js into a new array
  try {
    const E = dev.upload(h);
    const ms = await timeIt(
      wgslReps,
      () => dev.ema(E, G, 0.99, { inPlace: true }).then(() => {}),
      () => dev.download(E, 1),
    );
    rows.push({
      path: 'WebGPU WGSL EMA h ← β·h + (1−β)·ĥ (in place)',
      d,
      ms: round(ms, 4),
      bytesPerElement: 12,
      GBps: gbps(12, ms),
    });
    E.free();
    let J = await dev.ema(H, G, 0.99, { impl: 'gpujs' });
    const msJ = await timeIt(
      reps,
      async () => {
        const next = await dev.ema(H, G, 0.99, { impl: 'gpujs' });
        J.free();
        J = next;
      },
      () => dev.download(J, 1),
    );
    rows.push({
      path: 'WebGPU gpu.js EMA (new array)',
      d,
      ms: round(msJ, 4),
      bytesPerElement: 12,
      GBps: gbps(12, msJ),
    });
    J.free();
  } catch (e) {
    fail('WebGPU EMA', 12, e);
  }
  // AdaHessian: WGSL in place
  try {
    const A = { theta: dev.upload(theta), m: dev.upload(m0), v: dev.upload(h) };
    const ao = { lr: 1e-3, weightDecay: 0, b1: 0.9, b2: 0.999, eps: 1e-4, hessianPower: 1 };
    let step = 1;
    const ms = await timeIt(
      wgslReps,
      () => dev.adahessianStep(A, G, H, { ...ao, step: step++ }).then(() => {}),
      () => dev.download(A.theta, 1),
    );
    const finite = (await dev.download(A.theta)).every(Number.isFinite);
    rows.push({
      path: 'WebGPU WGSL fused AdaHessian (in place, vec4)',
      d,
      ms: round(ms, 4),
      bytesPerElement: 32,
      GBps: gbps(32, ms),
    });
    check(
      'adahessian WGSL state finite after timing',
      finite,
      finite ? `${d} θ values finite` : 'non-finite values',
    );
    for (const a of [A.theta, A.m, A.v]) a.free();
  } catch (e) {
    fail('WebGPU WGSL fused AdaHessian (in place, vec4)', 32, e);
  }
  G.free();
  H.free();
  for (const r of rows)
    if (r.ms !== undefined)
      console.log(`${r.path} d=${d}: ${r.ms.toFixed(4)} ms, ${r.GBps} GB/s (${r.bytesPerElement} B/element)`);
  return rows;
}

async function main(): Promise<number> {
  const load = loadAverage();
  const args = parseArgs(process.argv.slice(2));
  const outDir = args.out ?? '.';
  const quick = args.quick === 'true';
  const sizes = nums(args.sizes ?? (quick ? '64,128' : '1024,2048,4096'));
  const ew = Number(args.ew ?? (quick ? 65536 : 1 << 24));
  const impls = (args.impls ?? 'gpujs,gpujs-tiled,wgsl-64,wgsl-128').split(',') as MatmulImpl[];
  const probeSizes = nums(args.probe ?? '784,256,256,10');
  const batch = Number(args.batch ?? 128);
  const cpuN = Number(args['cpu-n'] ?? (quick ? 64 : 512));
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  };
  const report: Record<string, unknown> = {
    tool: 'hessflow bench/gpu',
    date: new Date().toISOString(),
    node: process.version,
    config: { sizes, ew, impls, probe: { sizes: probeSizes, batch }, cpuN },
  };
  const write = () => {
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'gpu.json'), JSON.stringify(report, null, 2) + '\n');
  };

  const selection = await selectGpuBackend('auto').catch((e: Error) => ({
    kind: 'error',
    reason: e.message,
  }));
  report.autoSelection = selection;
  console.log(`auto backend: ${selection.kind} — ${selection.reason}`);

  let dev: UpdateDevice;
  try {
    dev = await UpdateDevice.open();
  } catch (e) {
    report.error = (e as Error).message;
    report.ok = false;
    write();
    console.error((e as Error).message);
    return 2;
  }
  report.adapter = dev.adapter;
  report.adapterSummary = describeAdapter(dev.adapter);
  console.log(`device: ${describeAdapter(dev.adapter)}`);

  // ---- matmul ----
  const matmulRows: Record<string, unknown>[] = [];
  report.matmul = matmulRows;
  for (const n of sizes) {
    const a = randomF32(n * n, 1 + n);
    const b = randomF32(n * n, 7 + n);
    const A = dev.upload(a);
    const B = dev.upload(b);
    const forms: [boolean, boolean, MatmulImpl][] = impls.map((impl) => [false, false, impl]);
    const best = impls.includes('wgsl-128') ? 'wgsl-128' : impls.find((i) => i.startsWith('wgsl'));
    if (best) forms.push([false, true, best], [true, false, best]);
    for (const [transA, transB, impl] of forms) {
      const form = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
      const reps = n >= 4096 ? 3 : n >= 2048 ? 5 : 10;
      let C: DeviceArray | null = null;
      const reuse = impl.startsWith('wgsl') ? dev.upload(new Float32Array(n * n)) : undefined;
      try {
        const ms = await timeIt(
          reps,
          async () => {
            if (C && C !== reuse) C.free();
            C = await dev.matmul(A, B, {
              m: n,
              n,
              k: n,
              transA,
              transB,
              impl,
              ...(reuse ? { out: reuse } : {}),
            });
          },
          () => dev.download(C!, 1),
        );
        const got = await dev.download(C!);
        // spot check: 32 entries against float64 dot products, tolerance 2·√k·eps·Σ|a||b|
        let worst = 0;
        let finite = true;
        for (let i = 0; i < got.length; i++) if (!Number.isFinite(got[i])) finite = false;
        for (let s = 0; s < 32; s++) {
          const i = (s * 7919 + 3) % n;
          const j = (s * 104729 + 5) % n;
          let ref = 0;
          let abs = 0;
          for (let p = 0; p < n; p++) {
            const x = transA ? a[p * n + i] : a[i * n + p];
            const y = transB ? b[j * n + p] : b[p * n + j];
            ref += x * y;
            abs += Math.abs(x * y);
          }
          worst = Math.max(worst, Math.abs(got[i * n + j] - ref) / (2 * Math.sqrt(n) * EPS32 * abs + 1e-30));
        }
        const gflops = (2 * n ** 3) / (ms * 1e6);
        const ran = impl === 'gpujs-tiled' && n % 4 !== 0 ? 'gpujs (n % 4 ≠ 0)' : impl;
        const row = {
          n,
          form,
          impl: ran,
          ms: round(ms),
          gflops: round(gflops, 1),
          errOverTol: round(worst, 4),
          reps,
        };
        matmulRows.push(row);
        console.log(
          `matmul ${form} n=${n} ${impl}: ${ms.toFixed(2)} ms, ${gflops.toFixed(1)} GFLOP/s (err/tol ${worst.toFixed(3)})`,
        );
        check(
          `matmul ${form} ${n} ${impl}`,
          finite && worst <= 1,
          `err/tol ${worst.toFixed(3)}${finite ? '' : ', non-finite output'}`,
        );
      } catch (e) {
        matmulRows.push({ n, form, impl, error: (e as Error).message.split('\n')[0] });
        check(`matmul ${form} ${n} ${impl}`, false, (e as Error).message.split('\n')[0]);
      } finally {
        if (C && C !== reuse) (C as DeviceArray).free();
        reuse?.free();
      }
    }
    A.free();
    B.free();
  }
  try {
    const kernels = await import('../src/kernels/index.js');
    const mm = kernels.kernel('matmul');
    const a = randomF32(cpuN * cpuN, 3);
    const b = randomF32(cpuN * cpuN, 4);
    const c = new Float32Array(cpuN * cpuN);
    const spec = {
      batch: 1,
      m: cpuN,
      n: cpuN,
      k: cpuN,
      transA: false,
      transB: false,
      aOffsets: Int32Array.of(0),
      bOffsets: Int32Array.of(0),
    };
    mm(a, b, c, spec);
    const reps = 3;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) mm(a, b, c, spec);
    const ms = (performance.now() - t0) / reps;
    report.matmulCpu = {
      n: cpuN,
      backend: kernels.activeKernelBackend('matmul'),
      ms: round(ms),
      gflops: round((2 * cpuN ** 3) / (ms * 1e6), 1),
    };
    console.log(`matmul CPU (${kernels.activeKernelBackend('matmul')}) n=${cpuN}: ${ms.toFixed(2)} ms`);
  } catch (e) {
    report.matmulCpu = { error: (e as Error).message };
  }

  // ---- fused updates: Sophia-G (WGSL, and the gpu.js kernel for comparison), EMA, AdaHessian ----
  {
    const d = ew;
    const o = { lr: 1e-3, weightDecay: 0.1, b1: 0.965, rho: 0.04, batchSize: 128 };
    const theta = randomF32(d, 11);
    const m0 = randomF32(d, 12, -0.01, 0.01);
    const g = randomF32(d, 13);
    const h = randomF32(d, 14, 0, 1);
    report.updates = await benchUpdates(dev, { d, o, theta, m0, g, h }, check);
    try {
      const { sophiaG, applyUpdates } = await import('../src/optim/index.js');
      const dc = Math.min(d, 1 << 20);
      const opt = sophiaG({ lr: o.lr, b1: o.b1, rho: o.rho, weightDecay: o.weightDecay });
      let params: Float32Array = theta.slice(0, dc);
      let state = opt.init(params);
      const gc = g.slice(0, dc);
      const reps = 5;
      const step = () => {
        const [u, next] = opt.update(gc, state, params, { batchSize: o.batchSize });
        params = applyUpdates(params, u) as Float32Array;
        state = next;
      };
      step();
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) step();
      const ms = (performance.now() - t0) / reps;
      report.sophiaCpu = {
        d: dc,
        msPerStep: round(ms),
        GBpsSameAccounting: round((24 * dc) / (ms * 1e6), 2),
        path: 'src/optim sophiaG chain + applyUpdates',
      };
      console.log(`sophiaG CPU d=${dc}: ${ms.toFixed(2)} ms`);
    } catch (e) {
      report.sophiaCpu = { error: (e as Error).message };
    }
  }

  // ---- MLP GNB probe ----
  {
    const rows = batch;
    try {
      const { mlp } = await import('../src/nn/models/mlp.js');
      const { initialParams } = await import('../src/nn/model.js');
      const { gnbDiag } = await import('../src/curvature/gnb-diag.js');
      const { rng } = await import('../src/random/counter-rng.js');
      const { Tensor } = await import('../src/tensor/tensor.js');
      const model = mlp({ kind: 'mlp', sizes: probeSizes, activation: 'tanh' });
      const params = initialParams(model, 1) as Float32Array;
      const x = randomF32(rows * probeSizes[0], 21, 0, 1);
      const seed = 5;
      const step = 1;
      const r = rng(seed, 'gnb-labels', step);
      const u = Float64Array.from({ length: rows }, () => r.uniform());
      const P = dev.upload(params);
      const X = dev.upload(x);
      const U = dev.upload(u);
      const reps = 10;
      let last = await dev.mlpGnbProbe({
        sizes: probeSizes,
        params: P,
        inputs: X,
        rows,
        uniforms: U,
        returnLabels: true,
      });
      const t0 = performance.now();
      for (let i = 0; i < reps; i++)
        last = await dev.mlpGnbProbe({
          sizes: probeSizes,
          params: P,
          inputs: X,
          rows,
          uniforms: U,
          returnLabels: true,
        });
      const ms = (performance.now() - t0) / reps; // each probe ends with its own readback
      const inputs = { data: x, shape: [rows, probeSizes[0]] };
      const c0 = performance.now();
      const cpu = gnbDiag(model, new Tensor(params, [params.length]), inputs, { seed, step });
      const cpuMs = performance.now() - c0;
      let mismatches = 0;
      for (let i = 0; i < rows; i++) if (last.labels![i] !== cpu.sampled[i]) mismatches++;
      const L = dev.upload(cpu.sampled);
      const fixed = await dev.mlpGnbProbe({ sizes: probeSizes, params: P, inputs: X, rows, labels: L });
      let scale = 0;
      for (const v of cpu.diag) scale = Math.max(scale, Math.abs(v));
      let worst = 0;
      let finite = true;
      for (let i = 0; i < cpu.diag.length; i++) {
        if (!Number.isFinite(fixed.diag[i])) finite = false;
        worst = Math.max(
          worst,
          Math.abs(fixed.diag[i] - cpu.diag[i]) / (1e-5 * Math.abs(cpu.diag[i]) + 1e-7 * scale),
        );
      }
      report.probe = {
        model: `mlp ${probeSizes.join('-')} tanh`,
        batch: rows,
        params: params.length,
        ms: round(ms),
        cpuMs: round(cpuMs),
        labelMismatches: mismatches,
        errOverTol: round(worst, 4),
      };
      console.log(
        `GNB probe ${probeSizes.join('-')} × ${rows}: GPU ${ms.toFixed(2)} ms, CPU ${cpuMs.toFixed(1)} ms (err/tol ${worst.toFixed(3)}, label mismatches ${mismatches})`,
      );
      check(
        'GNB probe diag vs CPU gnbDiag',
        finite && worst <= 1,
        `err/tol ${worst.toFixed(3)}${finite ? '' : ', non-finite'}`,
      );
      check(
        'GNB probe labels vs CPU',
        mismatches <= Math.max(1, rows / 100),
        `${mismatches} of ${rows} sampled labels differ`,
      );
      for (const a of [P, X, U, L]) a.free();
    } catch (e) {
      report.probe = { error: (e as Error).message.split('\n')[0] };
      check('GNB probe', false, (e as Error).message.split('\n')[0]);
    }
  }

  // ---- GPT GNB probe: the reference char-GPT's model and batch ----
  report.gptProbe = await benchGptProbe(dev, args['gpt-config'], quick ? 1 : 5, check);

  report.checks = checks;
  report.ok = checks.every((c) => c.ok);
  write();
  // the same numbers in the shared results format (bench/lib/types.ts), ready for bench/results/
  const results = toResults(report, describeAdapter(dev.adapter), load);
  const bad = nonFinite(results);
  if (bad.length > 0) {
    check('results finite', false, bad.join(', '));
    report.ok = false;
    write();
  } else {
    writeFileSync(join(outDir, 'gpu-results.json'), JSON.stringify(results, null, 2) + '\n');
  }
  await dev.destroy();
  console.log(`wrote ${join(outDir, 'gpu.json')}: ${report.ok ? 'all checks passed' : 'CHECKS FAILED'}`);
  return report.ok ? 0 : 1;
}

/**
 * The full GNB probe of the reference char-GPT (config/gpt-reference-sophiag.json unless `configPath`
 * says otherwise: its model, with the corpus's vocabulary, its batch size and seed, the batch of the
 * first curvature launch) on the device, beside the CPU's gnbDiag on the same inputs. Each timed
 * probe uploads nothing (θ, tokens and uniforms stay on the device) and ends with its diagonal's
 * readback. The check compares the diagonal computed with the CPU's labels.
 */
async function benchGptProbe(
  dev: UpdateDevice,
  configPath: string | undefined,
  reps: number,
  check: (name: string, ok: boolean, detail: string) => void,
): Promise<Record<string, unknown>> {
  try {
    const { readConfig } = await import('../src/cli/config.js');
    const { setupData, modelSpecOf } = await import('../src/cli/run-setup.js');
    const { buildModel } = await import('../src/nn/models/registry.js');
    const { initialParams } = await import('../src/nn/model.js');
    const { gnbDiag } = await import('../src/curvature/gnb-diag.js');
    const { rng } = await import('../src/random/counter-rng.js');
    const { Tensor } = await import('../src/tensor/tensor.js');
    const { gptGnbProbe } = await import('../src/gpu/probes/gpt-gnb.js');
    const { repoRoot } = await import('./lib/paths.js');
    const path = configPath ?? join(repoRoot(), 'config', 'gpt-reference-sophiag.json');
    const config = readConfig(path);
    const data = setupData(config);
    const spec = modelSpecOf(config, data) as GptSpec;
    if (spec.kind !== 'gpt') throw new Error(`${path}: model kind ${spec.kind}, expected gpt`);
    const model = buildModel(spec);
    const params = initialParams(model, config.seed) as Float32Array;
    const step = config.curvature?.every ?? 10; // the first launch
    const batch = data.batchAt(step);
    const [B, T] = batch.inputShape;
    const rows = B * T;
    const r = rng(config.seed, 'gnb-labels', step);
    const u = Float64Array.from({ length: rows }, () => r.uniform());
    const common = { spec, params: dev.upload(params), tokens: dev.upload(batch.inputs), batch: B, T };
    const U = dev.upload(u);
    const probe = () => gptGnbProbe(dev, { ...common, uniforms: U, returnLabels: true });
    let last = await probe(); // warm-up: builds the kernels
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) last = await probe();
    const ms = (performance.now() - t0) / reps;
    const inputs = { data: batch.inputs, shape: batch.inputShape };
    const c0 = performance.now();
    const cpu = gnbDiag(model, new Tensor(params, [params.length]), inputs, { seed: config.seed, step });
    const cpuMs = performance.now() - c0;
    let mismatches = 0;
    for (let i = 0; i < rows; i++) if (last.labels![i] !== cpu.sampled[i]) mismatches++;
    const L = dev.upload(cpu.sampled);
    const fixed = await gptGnbProbe(dev, { ...common, labels: L });
    let scale = 0;
    for (const v of cpu.diag) scale = Math.max(scale, Math.abs(v));
    let worst = 0;
    let worstRel = 0;
    let finite = true;
    for (let i = 0; i < cpu.diag.length; i++) {
      if (!Number.isFinite(fixed.diag[i])) finite = false;
      const err = Math.abs(fixed.diag[i] - cpu.diag[i]);
      worstRel = Math.max(worstRel, err / scale);
      // float32 on both sides, and ĝ sums over batch·T token rows: a floor relative to the largest
      worst = Math.max(worst, err / (1e-5 * Math.abs(cpu.diag[i]) + 2e-6 * scale));
    }
    for (const a of [common.params, common.tokens, U, L]) a.free();
    const row = {
      model: `reference char-GPT, full probe: L${spec.nLayer} H${spec.nHead} C${spec.nEmbd} T${spec.blockSize} V${spec.vocabSize}${(spec.tied ?? true) ? ' tied' : ''}`,
      config: path,
      batch: B,
      tokens: rows,
      params: params.length,
      ms: round(ms),
      cpuMs: round(cpuMs),
      reps,
      labelMismatches: mismatches,
      errOverTol: round(worst, 4),
      maxErrOverMaxDiag: worstRel,
    };
    console.log(
      `GNB probe ${row.model} × ${B}: GPU ${ms.toFixed(1)} ms, CPU ${cpuMs.toFixed(1)} ms (err/tol ${worst.toFixed(3)}, max err / max diag ${worstRel.toExponential(2)}, label mismatches ${mismatches})`,
    );
    check(
      'GPT GNB probe diag vs CPU gnbDiag',
      finite && worst <= 1,
      `err/tol ${worst.toFixed(3)}${finite ? '' : ', non-finite'}`,
    );
    check(
      'GPT GNB probe labels vs CPU',
      mismatches <= Math.max(1, rows / 100),
      `${mismatches} of ${rows} sampled labels differ`,
    );
    return row;
  } catch (e) {
    check('GPT GNB probe', false, (e as Error).message.split('\n')[0]);
    return { error: (e as Error).message.split('\n')[0] };
  }
}

/** The benchmark's numbers as a `hessflow-bench/1` results file (rows with errors are left out). */
function toResults(report: Record<string, unknown>, accelerator: string, load: number): Results {
  const cell = (v: unknown) =>
    typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? v : null;
  const sections: Section[] = [];
  const mm = (report.matmul as Record<string, unknown>[]).filter((r) => !('error' in r));
  const cpu = report.matmulCpu as Record<string, unknown>;
  const mmRows: Row[] = mm.map((r) => ({
    n: cell(r.n),
    form: cell(r.form),
    path: `WebGPU ${String(r.impl)}`,
    ms: cell(r.ms),
    gflops: cell(r.gflops),
    errOverTol: cell(r.errOverTol),
  }));
  if (cpu && !('error' in cpu)) {
    mmRows.push({
      n: cell(cpu.n),
      form: 'NN',
      path: `CPU ${String(cpu.backend)}`,
      ms: cell(cpu.ms),
      gflops: cell(cpu.gflops),
      errOverTol: null,
    });
  }
  sections.push({
    id: 'gpu-matmul',
    title: 'Matmul, device-resident (float32)',
    columns: [
      { key: 'n', label: 'n', digits: 0 },
      { key: 'form', label: 'form' },
      { key: 'path', label: 'path' },
      { key: 'ms', label: 'ms', digits: 2 },
      { key: 'gflops', label: 'GFLOP/s', digits: 1 },
      { key: 'errOverTol', label: 'err/tol', digits: 3 },
    ],
    rows: mmRows,
    notes: [
      'C = op(A)·op(B), n×n×n; NN/NT/TN = which operand is stored transposed. Timed loop ends with a one-element readback (queued work counted); inputs stay on the device.',
      'gpujs: one output per thread; gpujs-tiled: four outputs per thread (Array(4)); wgsl-64/128: WGSL with workgroup-memory tiles (64×64, 4×4 per thread / 128×128, 8×8 per thread).',
      'err/tol: worst of 32 sampled entries against float64 dot products, tolerance 2·√k·eps32·Σ|a·b|.',
    ],
  });
  const updates = (report.updates as UpdateRow[] | undefined) ?? [];
  const sc = report.sophiaCpu as Record<string, unknown> | undefined;
  const soRows: Row[] = updates
    .filter((r) => r.error === undefined)
    .map((r) => ({
      path: r.path,
      d: r.d,
      bytes: r.bytesPerElement,
      ms: cell(r.ms),
      gbps: cell(r.GBps),
    }));
  if (sc && !('error' in sc))
    soRows.push({
      path: 'CPU sophiaG chain',
      d: cell(sc.d),
      bytes: 24,
      ms: cell(sc.msPerStep),
      gbps: cell(sc.GBpsSameAccounting),
    });
  sections.push({
    id: 'gpu-sophia',
    title: 'Fused optimizer updates over a flat vector (device-resident)',
    columns: [
      { key: 'path', label: 'path' },
      { key: 'd', label: 'elements', digits: 0 },
      { key: 'bytes', label: 'B/element', digits: 0 },
      { key: 'ms', label: 'ms/step', digits: 3 },
      { key: 'gbps', label: 'GB/s', digits: 1 },
    ],
    rows: soRows,
    notes: [
      'GB/s = B/element × elements / time, counting each array read or written once: Sophia-G 24 B (read θ, m, h, g; write θ, m), EMA 12 B (read h, ĥ; write h), AdaHessian 32 B (read θ, m, v, g, D; write θ, m, v).',
      'WGSL rows: hand-written kernels over separate flat buffers, in place, vec4 loads/stores with a scalar tail, 256-wide workgroups, grid-stride. gpu.js rows: the earlier kernels (interleaved θ, m for Sophia-G), each call writing a fresh output buffer.',
      'Timed loop ends with a one-element readback (queued work counted); per-call host work (uniform write, bind group, submit) is included.',
    ],
  });
  const pr = report.probe as Record<string, unknown> | undefined;
  const gp = report.gptProbe as Record<string, unknown> | undefined;
  const probeRows: Row[] = [pr, gp]
    .filter((p): p is Record<string, unknown> => p !== undefined && !('error' in p))
    .map((p) => ({
      model: cell(p.model),
      batch: cell(p.batch),
      gpuMs: cell(p.ms),
      cpuMs: cell(p.cpuMs),
      errOverTol: cell(p.errOverTol),
    }));
  if (probeRows.length > 0) {
    sections.push({
      id: 'gpu-probe',
      title: 'Gauss-Newton-Bartlett probe (MLP; reference char-GPT)',
      columns: [
        { key: 'model', label: 'model' },
        { key: 'batch', label: 'batch', digits: 0 },
        { key: 'gpuMs', label: 'WebGPU ms', digits: 2 },
        { key: 'cpuMs', label: 'CPU gnbDiag ms', digits: 1 },
        { key: 'errOverTol', label: 'err/tol', digits: 3 },
      ],
      rows: probeRows,
      notes: [
        'Forward, label sampling, backward and ĝ⊙ĝ on the device; only the diagonal is read back (included in the time).',
        'char-GPT: config/gpt-reference-sophiag.json (model, batch, seed; vocabulary from the corpus), the batch of the first curvature launch; batch counts sequences (batch·blockSize token rows). err/tol: tolerance 1e-5·|want| + 2e-6·max|diag| (MLP: 1e-5·|want| + 1e-7·max|diag|).',
      ],
    });
  }
  return {
    schema: RESULTS_SCHEMA,
    name: 'gpu',
    suites: ['gpu'],
    machine: { ...describeMachine(load), accelerator },
    sections,
  };
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(2);
  },
);
