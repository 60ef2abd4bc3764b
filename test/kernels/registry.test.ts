/**
 * Backend selection: the wasm matmul is registered and preferred over the CPU reference (it passed its
 * self-check), BLAS over both where a CBLAS library loads (kernel mode 'fast'), explicit selection
 * overrides the preference, and the tensor ops give the same results either way.
 */
import t from 'tap';
import {
  activeKernelBackend,
  kernel,
  kernelBackends,
  kernelFor,
  preferKernelBackend,
  resetKernelBackend,
  blasStatus,
  kernelMode,
  useKernelBackend,
  withKernelBackend,
} from '../../src/kernels/index.js';
import { F32_BACKEND } from '../../src/kernels/wasm-f32/index.js';
import { cpuMatmul } from '../../src/kernels/cpu/matmul.js';
import { selfCheck, wasmMatmul } from '../../src/kernels/wasm/index.js';
import * as T from '../../src/tensor/index.js';
import { values } from './matmul-check.js';

/** The matmul backend preferred here: BLAS where it loaded (never in 'exact' mode), else wasm. */
const matmulDefault = blasStatus().active ? 'blas' : 'wasm';

t.test('matmul defaults to BLAS or wasm; useKernelBackend overrides; reset restores', async (t) => {
  t.same(
    kernelBackends('matmul'),
    blasStatus().active ? ['cpu', 'wasm', 'blas'] : ['cpu', 'wasm'],
    'CPU reference first',
  );
  t.equal(activeKernelBackend('matmul'), matmulDefault);
  if (matmulDefault === 'wasm') t.equal(kernel('matmul'), wasmMatmul!.kernel);
  useKernelBackend('matmul', 'wasm');
  t.equal(kernel('matmul'), wasmMatmul!.kernel);
  useKernelBackend('matmul', 'cpu');
  t.equal(activeKernelBackend('matmul'), 'cpu');
  t.equal(kernel('matmul'), cpuMatmul);
  resetKernelBackend('matmul');
  t.equal(activeKernelBackend('matmul'), matmulDefault);
  // Kernels without another backend keep the CPU reference.
  t.same(kernelBackends('where'), ['cpu']);
  t.equal(activeKernelBackend('where'), 'cpu');
  // The exact wasm backends (bit for bit the reference) are preferred once their self-checks pass;
  // in 'fast' mode a float32 backend that passed its own check is preferred over them.
  for (const name of [
    'binary',
    'sum',
    'permute',
    'layerNorm',
    'layerNormVjp',
    'softmax',
    'causalSoftmax',
    'softmaxVjp',
    'geluVjp',
    'affine',
    'addInto',
    'scaleInto',
    'addScaledInto',
    'sumOfSquares',
    'allFinite',
    'emaInto',
    'sophiaGClip',
    'sophiaHClip',
    'adamMoments',
  ] as const) {
    const backends = kernelBackends(name);
    t.same(backends.slice(0, 2), ['cpu', 'wasm'], `${name}: CPU reference first, then wasm`);
    const want =
      name === 'affine' || (name === 'addInto' && backends.includes('blas'))
        ? matmulDefault
        : backends.includes(F32_BACKEND)
          ? F32_BACKEND
          : 'wasm';
    t.equal(activeKernelBackend(name), want, `${name}: ${want} preferred`);
    if (kernelMode() === 'exact')
      t.same(backends, ['cpu', 'wasm'], `${name}: exact mode registers nothing else`);
  }
});

t.test('unknown backends are errors, not silent fallbacks', async (t) => {
  t.throws(() => useKernelBackend('matmul', 'gpu'), /kernel matmul has no backend gpu \(has: cpu, wasm/);
  t.throws(() => preferKernelBackend('matmul', 'gpu'), /no backend gpu/);
  t.equal(activeKernelBackend('matmul'), matmulDefault);
});

t.test(
  'the registration self-check measures small errors for the wasm kernel and large ones for a wrong kernel',
  async (t) => {
    const good = selfCheck(kernelFor('matmul', 'wasm')!);
    t.ok(good.f32 <= 1e-5 && good.f64 <= 1e-12, JSON.stringify(good));
    const bad = selfCheck((a, b, out, s) => {
      cpuMatmul(a, b, out, s);
      out[0] += 1;
    });
    t.ok(bad.f32 > 1e-3 && bad.f64 > 1e-3, JSON.stringify(bad));
  },
);

t.test(
  'tensor matmul and its gradients agree across backends (float32 MLP layer, batched broadcast)',
  async (t) => {
    const x = T.tensor(values(Float32Array, 6 * 37, 1) as Float32Array, [6, 37]);
    const w = T.tensor(values(Float32Array, 19 * 37, 2) as Float32Array, [19, 37]);
    const f = (p: T.Tensor): T.Tensor => T.sum(T.tanh(T.matmul(x, T.reshape(p, [19, 37]), { transB: true })));
    const batchA = T.tensor(values(Float32Array, 2 * 1 * 5 * 4, 3) as Float32Array, [2, 1, 5, 4]);
    const batchB = T.tensor(values(Float32Array, 3 * 4 * 6, 4) as Float32Array, [3, 4, 6]);
    const run = (backend: string): { g: Float32Array; hv: Float32Array; y: Float32Array } => {
      useKernelBackend('matmul', backend);
      const [, g] = T.valueAndGrad(f)(T.reshape(w, [19 * 37]));
      const hv = T.hvp(
        f,
        T.reshape(w, [19 * 37]),
        T.tensor(values(Float32Array, 19 * 37, 5) as Float32Array, [19 * 37]),
      );
      const y = T.matmul(batchA, batchB);
      return { g: g.data as Float32Array, hv: hv.data as Float32Array, y: y.data as Float32Array };
    };
    const ref = run('cpu');
    const got = run('wasm');
    resetKernelBackend('matmul');
    for (const key of ['g', 'hv', 'y'] as const) {
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < ref[key].length; i++) {
        worst = Math.max(worst, Math.abs(got[key][i] - ref[key][i]));
        scale = Math.max(scale, Math.abs(ref[key][i]));
      }
      t.ok(
        worst <= 1e-5 * scale,
        `${key}: max difference ${worst.toExponential(2)} of max ${scale.toExponential(2)}`,
      );
    }
    t.same(T.matmul(batchA, batchB).shape, [2, 3, 5, 6]);
  },
);

t.test(
  'withKernelBackend selects a backend for the kernels that have it and restores every selection',
  async (t) => {
    useKernelBackend('sum', 'cpu'); // an explicit selection must come back as it was
    try {
      const inside = withKernelBackend('wasm', () => [
        activeKernelBackend('matmul'),
        activeKernelBackend('sum'),
        activeKernelBackend('gather'), // no wasm backend: unchanged
      ]);
      t.same(inside, ['wasm', 'wasm', 'cpu']);
      t.equal(activeKernelBackend('sum'), 'cpu', 'the explicit selection is back');
      t.equal(activeKernelBackend('matmul'), matmulDefault, 'the preference still applies');
      resetKernelBackend('sum');
      t.throws(
        () =>
          withKernelBackend('cpu', () => {
            t.equal(activeKernelBackend('matmul'), 'cpu');
            throw new Error('boom');
          }),
        /boom/,
      );
      t.equal(activeKernelBackend('matmul'), matmulDefault, 'restored after a throw');
      t.equal(activeKernelBackend('sum'), 'wasm', 'no selection left behind');
    } finally {
      resetKernelBackend('sum');
    }
  },
);
