/**
 * The BLAS backend of 'matmul', 'affine' and 'addInto' (src/kernels/blas): which library loads and
 * when it does not (HESSFLOW_BLAS, HESSFLOW_KERNELS), that it leaves its operands untouched and reads views at
 * their offsets, the same bits on every call and in a worker thread, and the affine bias contract.
 * Its products against the CPU reference (odd sizes, transposes, batches, poisoned outputs) are in
 * matmul.test.ts and tensor/kernels.test.ts, which run every registered backend.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { addRowBias, cpuMatmul } from '../../src/kernels/cpu/matmul.js';
import { addIntoLoop } from '../../src/kernels/cpu/passes.js';
import { MIN_BLAS_PASS } from '../../src/kernels/blas/passes.js';
import { activeKernelBackend, blasStatus, describeKernels, kernelFor } from '../../src/kernels/index.js';
import { spec, values } from './matmul-check.js';

const status = blasStatus();
const skip = status.active ? false : `no BLAS here: ${status.reason}`;

/** Runs a snippet in a child Node (tsx) with extra environment; returns its last stdout line as JSON. */
function child(
  code: string,
  env: Record<string, string>,
): { status: number | null; out: unknown; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  const last = run.stdout.trim().split('\n').pop() ?? '';
  let out: unknown = null;
  try {
    out = JSON.parse(last);
  } catch {
    out = last;
  }
  return { status: run.status, out, stderr: run.stderr };
}

const PROBE = `
import { activeKernelBackend, blasStatus, describeKernels, kernelBackends, kernelMode } from './src/kernels/index.ts';
console.log(JSON.stringify({ described: describeKernels(), mode: kernelMode(), status: blasStatus(), backends: kernelBackends('matmul'), active: activeKernelBackend('matmul'), affine: activeKernelBackend('affine'), passes: kernelBackends('addInto') }));
`;

t.test(
  'HESSFLOW_BLAS=off, a library that is not there, and HESSFLOW_KERNELS=exact keep BLAS out',
  async (t) => {
    for (const [env, reason] of [
      [{ HESSFLOW_BLAS: 'off' }, /turned off by HESSFLOW_BLAS/],
      [
        { HESSFLOW_BLAS: '/nonexistent/libcblas.so' },
        /HESSFLOW_BLAS=\/nonexistent\/libcblas\.so cannot be loaded/,
      ],
      [{ HESSFLOW_KERNELS: 'exact' }, /HESSFLOW_KERNELS=exact/],
    ] as const) {
      const r = child(PROBE, env);
      t.equal(r.status, 0, `${JSON.stringify(env)}: exits cleanly ${r.stderr.slice(0, 300)}`);
      const o = r.out as {
        status: { active: boolean; reason: string };
        backends: string[];
        active: string;
        affine: string;
        passes: string[];
      };
      t.equal(o.status.active, false, JSON.stringify(env));
      t.match(o.status.reason, reason);
      t.same(o.backends, ['cpu', 'wasm'], 'not registered');
      t.equal(o.active, 'wasm', 'the wasm gemm is the default');
      t.equal(o.affine, 'wasm');
      t.notOk(o.passes.includes('blas'), 'no BLAS addInto either');
    }
  },
);

t.test('an unknown kernel mode is an error that names the variable and the choices', async (t) => {
  const r = child(PROBE, { HESSFLOW_KERNELS: 'turbo' });
  t.not(r.status, 0);
  t.match(r.stderr, /HESSFLOW_KERNELS=turbo is not a kernel mode: use 'fast' \(the default\) or 'exact'/);
});

t.test('where OpenBLAS loads it is preferred, one thread, its kernel named', { skip }, async (t) => {
  if (!status.active) return;
  t.equal(activeKernelBackend('matmul'), 'blas');
  t.equal(activeKernelBackend('affine'), 'blas');
  t.match(status.library, /blas/i);
  t.ok(status.config === '' || /OpenBLAS/.test(status.config), status.config);
  t.match(describeKernels(), /^fast: matmul BLAS \(/);
});

t.test(
  'operands untouched, views read at their offsets, the same bits on every call',
  { skip },
  async (t) => {
    const blas = kernelFor('matmul', 'blas')!;
    for (const Ctor of [Float32Array, Float64Array]) {
      // Operands as views into larger buffers, as a tensor over part of an array would be.
      const aAll = values(Ctor, 7 + 37 * 19, 1);
      const bAll = values(Ctor, 5 + 19 * 23, 2);
      const a = aAll.subarray(7);
      const b = bAll.subarray(5);
      const aCopy = aAll.slice();
      const bCopy = bAll.slice();
      const s = spec(37, 23, 19, false, false);
      const want = new Ctor(37 * 23);
      cpuMatmul(a.slice(), b.slice(), want, s);
      const outAll = new Ctor(3 + 37 * 23).fill(NaN);
      const out = outAll.subarray(3);
      blas(a, b, out, s);
      t.same(aAll, aCopy, `${Ctor.name}: A unchanged`);
      t.same(bAll, bCopy, `${Ctor.name}: B unchanged`);
      t.ok(Number.isNaN(outAll[0]) && Number.isNaN(outAll[2]), 'nothing written before the view');
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(out[i] - want[i]));
      t.ok(
        worst < (Ctor === Float32Array ? 1e-5 : 1e-13),
        `${Ctor.name}: within rounding of the reference (${worst})`,
      );
      const again = new Ctor(37 * 23);
      blas(a, b, again, s);
      t.same(Array.from(again), Array.from(out), 'the same bits twice');
    }
  },
);

t.test(
  'affine: each product rounded, then its bias added; nothing read from the old output',
  { skip },
  async (t) => {
    const affine = kernelFor('affine', 'blas')!;
    const [rows, k, n] = [9, 13, 6];
    const x = values(Float32Array, rows * k, 3) as Float32Array;
    const w = values(Float32Array, n * k, 4) as Float32Array;
    const bias = values(Float32Array, n, 5) as Float32Array;
    const got = new Float32Array(rows * n).fill(NaN);
    affine(x, w, bias, got, rows, k, n);
    const want = new Float32Array(rows * n);
    cpuMatmul(x, w, want, spec(rows, n, k, false, true));
    addRowBias(want, rows, n, bias);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    t.ok(worst < 1e-6, `within float32 rounding of product-then-bias (${worst})`);
    // k = 0: the output is the bias rows.
    const empty = new Float32Array(rows * n).fill(NaN);
    affine(new Float32Array(0), new Float32Array(0), bias, empty, rows, 0, n);
    for (let r = 0; r < rows; r++) t.same(Array.from(empty.subarray(r * n, r * n + n)), Array.from(bias));
  },
);

// The built module (npm test builds first): a worker thread runs plain JavaScript.
const built = new URL('../../dist/src/kernels/index.js', import.meta.url);
const skipWorker =
  skip || (existsSync(built) ? false : 'no dist/ build (npm test builds first; or npm run build)');

t.test(
  'a worker thread loads its own BLAS and computes the same bits as the main thread',
  { skip: skipWorker },
  async (t) => {
    const blas = kernelFor('matmul', 'blas')!;
    const a = values(Float32Array, 64 * 48, 6);
    const b = values(Float32Array, 48 * 40, 7);
    const mine = new Float32Array(64 * 40);
    blas(a, b, mine, spec(64, 40, 48, false, false));
    const url = built.href;
    const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${JSON.stringify(url)}).then((k) => {
      const out = new Float32Array(64 * 40);
      const s = { batch: 1, m: 64, n: 40, k: 48, transA: false, transB: false, aOffsets: new Int32Array(1), bOffsets: new Int32Array(1) };
      k.kernel('matmul')(workerData.a, workerData.b, out, s);
      parentPort.postMessage({ backend: k.activeKernelBackend('matmul'), out });
    });`;
    const worker = new Worker(code, { eval: true, workerData: { a, b } });
    const msg = await new Promise<{ backend: string; out: Float32Array }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    t.equal(msg.backend, 'blas');
    t.same(Array.from(msg.out), Array.from(mine));
  },
);

t.test('addInto through saxpy: the reference loop’s bits, views at their offsets', { skip }, async (t) => {
  t.equal(activeKernelBackend('addInto'), 'blas');
  const addInto = kernelFor('addInto', 'blas')!;
  const bitsOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  for (const n of [MIN_BLAS_PASS - 1, MIN_BLAS_PASS, 269_322]) {
    const a = Float32Array.from(values(Float32Array, n, 5), (v, i) => v * 2 ** ((i % 61) - 30));
    const b = Float32Array.from(values(Float32Array, n, 6), (v, i) => v * 2 ** ((i % 53) - 26));
    a.set([0, -0, -0, 1e-45, Infinity, NaN, 3e38, -2e-39]);
    b.set([-0, 0, -0, -1e-45, 1, 1, 3e38, 1e-39]);
    const want = a.slice();
    addIntoLoop(want, b);
    const got = a.slice();
    addInto(got, b);
    t.ok(bitsOf(got).equals(bitsOf(want)), `n = ${n}: the loop's bits`);
    // A view at an offset: only its elements change.
    const big = a.slice();
    addInto(big.subarray(3, n - 2), b.subarray(3, n - 2));
    const wantView = a.slice();
    addIntoLoop(wantView.subarray(3, n - 2), b.subarray(3, n - 2));
    t.ok(bitsOf(big).equals(bitsOf(wantView)), `a view, n = ${n}`);
    const twice = a.slice();
    addInto(twice, twice);
    const wantTwice = a.slice();
    addIntoLoop(wantTwice, wantTwice);
    t.ok(bitsOf(twice).equals(bitsOf(wantTwice)), `dst = src, n = ${n}`);
  }
});
