/**
 * Gradient and Hessian-vector product of an MLP 784-256-256-10 (tanh, cross-entropy from logits) at
 * batch 128, float32, with all parameters in one flat vector that the model slices (slice + reshape,
 * zero copy). Timed once per matmul backend, interleaved; the time inside the matmul kernel is
 * measured too, so the table shows how much of each step the kernel layer accounts for.
 */
import {
  kernelBackends,
  kernelFor,
  registerKernel,
  resetKernelBackend,
  useKernelBackend,
} from '../../src/kernels/index.js';
import type { MatmulKernel } from '../../src/kernels/registry.js';
import * as T from '../../src/tensor/index.js';
import { interleave, median } from '../lib/timing.js';
import type { Row, Section, SuiteContext } from '../lib/types.js';

export const LAYERS = [784, 256, 256, 10] as const;
export const BATCH = 128;

/** Deterministic uniforms in [lo, hi). */
function uniform(n: number, lo: number, hi: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

export interface Mlp {
  readonly loss: (theta: T.Tensor) => T.Tensor;
  readonly theta: T.Tensor;
  readonly v: T.Tensor;
  readonly parameters: number;
}

/** The model, its data (inputs in [0, 1), labels 0–9) and a flat parameter vector (LeCun-uniform init). */
export function makeMlp(): Mlp {
  const x = T.tensor(uniform(BATCH * LAYERS[0], 0, 1, 1), [BATCH, LAYERS[0]]);
  const y = Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % 10);
  const offsets: number[] = [];
  let total = 0;
  for (let l = 0; l + 1 < LAYERS.length; l++) {
    offsets.push(total);
    total += LAYERS[l + 1] * LAYERS[l] + LAYERS[l + 1];
  }
  const init = new Float32Array(total);
  for (let l = 0; l + 1 < LAYERS.length; l++) {
    const fanIn = LAYERS[l];
    const count = LAYERS[l + 1] * fanIn + LAYERS[l + 1];
    init.set(uniform(count, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), 10 + l), offsets[l]);
  }
  const loss = (theta: T.Tensor): T.Tensor => {
    let h = x;
    for (let l = 0; l + 1 < LAYERS.length; l++) {
      const fanIn = LAYERS[l];
      const fanOut = LAYERS[l + 1];
      const w = T.reshape(T.slice(theta, [offsets[l]], [fanOut * fanIn]), [fanOut, fanIn]);
      const b = T.slice(theta, [offsets[l] + fanOut * fanIn], [fanOut]);
      h = T.add(T.matmul(h, w, { transB: true }), b);
      if (l + 2 < LAYERS.length) h = T.tanh(h);
    }
    return T.crossEntropy(h, y);
  };
  return {
    loss,
    theta: T.tensor(init, [total]),
    v: T.tensor(uniform(total, -1, 1, 99), [total]),
    parameters: total,
  };
}

function allFinite(t: T.Tensor): boolean {
  for (let i = 0; i < t.size; i++) if (!Number.isFinite(t.data[i])) return false;
  return true;
}

/** Largest |a − b| relative to max |b|. */
function relDiff(a: T.Tensor, b: T.Tensor): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.size; i++) {
    d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
    s = Math.max(s, Math.abs(b.data[i]));
  }
  return d / s;
}

export function mlpSuite(ctx: SuiteContext): Section[] {
  const mlp = makeMlp();
  const grad = T.valueAndGrad(mlp.loss);
  const backends = kernelBackends('matmul').filter((b) => !b.startsWith('bench:'));

  // A pass-through backend that times the kernel it forwards to.
  let inner: MatmulKernel = kernelFor('matmul', 'cpu')!;
  let kernelMs = 0;
  if (!kernelBackends('matmul').includes('bench:timed')) {
    registerKernel('matmul', 'bench:timed', (a, b, out, spec) => {
      const t0 = performance.now();
      inner(a, b, out, spec);
      kernelMs += performance.now() - t0;
    });
  }
  const variants: { label: string; backend: string; finiteChecks: boolean }[] = backends.map((b) => ({
    label: b,
    backend: b,
    finiteChecks: true,
  }));
  const fastest = backends.includes('wasm') ? 'wasm' : 'cpu';
  variants.push({ label: `${fastest}, finite checks off`, backend: fastest, finiteChecks: false });

  const kernelShare: Record<string, { grad: number[]; hvp: number[] }> = {};
  const lastGrad: Record<string, T.Tensor> = {};
  const lastHvp: Record<string, T.Tensor> = {};
  const alternatives: Record<string, () => void> = {};
  for (const v of variants) {
    kernelShare[v.label] = { grad: [], hvp: [] };
    const enter = (): void => {
      inner = kernelFor('matmul', v.backend)!;
      useKernelBackend('matmul', 'bench:timed');
      T.setFiniteChecks(v.finiteChecks);
      kernelMs = 0;
    };
    alternatives[`${v.label}|grad`] = () => {
      enter();
      const [, g] = grad(mlp.theta);
      kernelShare[v.label].grad.push(kernelMs);
      lastGrad[v.label] = g;
    };
    alternatives[`${v.label}|hvp`] = () => {
      enter();
      const hv = T.hvp(mlp.loss, mlp.theta, mlp.v);
      kernelShare[v.label].hvp.push(kernelMs);
      lastHvp[v.label] = hv;
    };
  }
  let samples;
  try {
    samples = interleave(alternatives, { warmup: 3, rounds: ctx.quick ? 25 : 75 });
  } finally {
    resetKernelBackend('matmul');
    T.setFiniteChecks(true);
  }

  // Sanity: finite results, and every backend computes the same gradient and HVP.
  const ref = variants[0].label;
  for (const v of variants) {
    const [g, hv] = [lastGrad[v.label], lastHvp[v.label]];
    if (!allFinite(g) || !allFinite(hv))
      throw new Error(`mlp bench: ${v.label} produced a non-finite gradient or HVP`);
    const dg = relDiff(g, lastGrad[ref]);
    const dh = relDiff(hv, lastHvp[ref]);
    if (!(dg <= 1e-4 && dh <= 1e-4))
      throw new Error(`mlp bench: ${v.label} differs from ${variants[0].label} (grad ${dg}, hvp ${dh})`);
  }

  const rows: Row[] = variants.map((v) => {
    const g = samples[`${v.label}|grad`].median;
    const h = samples[`${v.label}|hvp`].median;
    const kg = median(kernelShare[v.label].grad);
    const kh = median(kernelShare[v.label].hvp);
    ctx.log(
      `mlp ${v.label}: grad ${g.toFixed(1)} ms (matmul ${kg.toFixed(1)}), hvp ${h.toFixed(1)} ms (matmul ${kh.toFixed(1)}), ratio ${(h / g).toFixed(2)}`,
    );
    const gc = samples[`${v.label}|grad`].cpuMedian;
    const hc = samples[`${v.label}|hvp`].cpuMedian;
    return {
      matmul: v.label,
      grad: g,
      hvp: h,
      ratio: h / g,
      gradMatmul: kg,
      hvpMatmul: kh,
      gradCpu: gc,
      hvpCpu: hc,
      ratioCpu: hc / gc,
      target: h / g <= 3 ? 'yes' : 'no',
    };
  });
  rows.push({
    matmul: 'PyTorch 1.13 CPU, 1 thread (reference, not run here)',
    grad: 4.9,
    hvp: 14.6,
    ratio: 14.6 / 4.9,
    gradMatmul: null,
    hvpMatmul: null,
    gradCpu: null,
    hvpCpu: null,
    ratioCpu: null,
    target: 'yes',
  });
  return [
    {
      id: 'mlp',
      title: `MLP ${LAYERS.join('-')} (tanh, cross-entropy), batch ${BATCH}, float32: gradient and exact HVP (ms, lower is better)`,
      columns: [
        { key: 'matmul', label: 'matmul backend' },
        { key: 'grad', label: 'grad ms', digits: 1 },
        { key: 'hvp', label: 'HVP ms', digits: 1 },
        { key: 'ratio', label: 'HVP / grad', digits: 2 },
        { key: 'gradMatmul', label: 'in matmul, grad ms', digits: 1 },
        { key: 'hvpMatmul', label: 'in matmul, HVP ms', digits: 1 },
        { key: 'gradCpu', label: 'grad CPU ms', digits: 1 },
        { key: 'hvpCpu', label: 'HVP CPU ms', digits: 1 },
        { key: 'ratioCpu', label: 'ratio (CPU time)', digits: 2 },
        { key: 'target', label: 'HVP ≤ 3× grad' },
      ],
      rows,
      notes: [
        `${mlp.parameters} parameters in one flat float32 vector, sliced per layer with slice + reshape (zero copy); grad = valueAndGrad, HVP = hvp (double backward).`,
        'Median over interleaved rounds after 3 warm-up calls; "in matmul" is the time inside the matmul kernel during the same calls.',
        '"CPU ms" is the process CPU time of the same calls (leaves out waiting for a core on a loaded machine; includes V8 helper threads such as concurrent GC).',
        'Finite checks (every op scans its output for NaN/±Infinity) are on by default; one row shows the same backend with them off.',
        'The PyTorch row is the reference measured on this machine kind (shared/ENVIRONMENT.md), for scale only.',
      ],
    },
  ];
}
