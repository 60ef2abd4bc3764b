/**
 * Matmul throughput: GFLOP/s (2·n³ flops per product) of every registered backend of the 'matmul'
 * kernel on square float32 products, called directly (no tensor or autodiff overhead), plus a naive
 * i-k-j Float32Array loop as the baseline the issue compares against.
 */
import { kernelBackends, kernelFor } from '../../src/kernels/index.js';
import type { MatmulKernel, MatmulSpec } from '../../src/kernels/registry.js';
import { interleave } from '../lib/timing.js';
import type { Row, Section, SuiteContext } from '../lib/types.js';

export const SIZES = [128, 256, 512] as const;

/** The textbook loop: C[i,:] += A[i,p]·B[p,:]. */
const naive: MatmulKernel = (a, b, out, spec) => {
  const { m, n, k } = spec;
  out.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p];
      const o = i * n;
      const r = p * n;
      for (let j = 0; j < n; j++) out[o + j] += x * b[r + j];
    }
  }
};

function filled(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

export function matmulSuite(ctx: SuiteContext): Section[] {
  const backends = kernelBackends('matmul').filter((b) => !b.startsWith('bench:'));
  const kernels: Record<string, MatmulKernel> = {};
  for (const b of backends) kernels[b] = kernelFor('matmul', b)!;
  kernels['naive JS i-k-j'] = naive;
  const gflops: Record<string, Record<number, number>> = {};
  const cpuGflops: Record<string, Record<number, number>> = {};
  for (const name of Object.keys(kernels)) {
    gflops[name] = {};
    cpuGflops[name] = {};
  }
  for (const n of SIZES) {
    const a = filled(n * n, n);
    const b = filled(n * n, n + 1);
    const spec: MatmulSpec = {
      batch: 1,
      m: n,
      n,
      k: n,
      transA: false,
      transB: false,
      aOffsets: new Int32Array(1),
      bOffsets: new Int32Array(1),
    };
    const outs: Record<string, Float32Array> = {};
    const alternatives: Record<string, () => void> = {};
    for (const [name, kernel] of Object.entries(kernels)) {
      const out = (outs[name] = new Float32Array(n * n));
      alternatives[name] = () => kernel(a, b, out, spec);
    }
    const big = n >= 512;
    const samples = interleave(alternatives, {
      warmup: big ? 1 : 3,
      rounds: ctx.quick ? (big ? 7 : 15) : big ? 21 : 45,
      minSampleMs: 20,
    });
    // Every backend must have computed the same product (float32 accumulation-order differences only).
    const ref = outs.cpu;
    for (const [name, out] of Object.entries(outs)) {
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < ref.length; i++) {
        worst = Math.max(worst, Math.abs(out[i] - ref[i]));
        scale = Math.max(scale, Math.abs(ref[i]));
      }
      if (!(worst <= 1e-4 * scale))
        throw new Error(
          `matmul bench: backend ${name} differs from the CPU reference at n=${n} (${worst} of ${scale})`,
        );
    }
    for (const name of Object.keys(kernels)) {
      gflops[name][n] = (2 * n ** 3) / (samples[name].median * 1e6);
      cpuGflops[name][n] = (2 * n ** 3) / (samples[name].cpuMedian * 1e6);
    }
    ctx.log(
      `matmul n=${n}: ${Object.keys(kernels)
        .map((k) => `${k} ${gflops[k][n].toFixed(2)} GFLOP/s`)
        .join(', ')}`,
    );
  }
  const rows: Row[] = Object.keys(kernels).map((name) => {
    const row: Row = { backend: name };
    for (const n of SIZES) {
      row[`g${n}`] = gflops[name][n];
      row[`c${n}`] = cpuGflops[name][n];
    }
    return row;
  });
  return [
    {
      id: 'matmul',
      title: 'Matmul, square float32 (GFLOP/s, higher is better)',
      columns: [
        { key: 'backend', label: 'backend' },
        ...SIZES.map((n) => ({ key: `g${n}`, label: `n=${n} GFLOP/s`, digits: 2 })),
        ...SIZES.map((n) => ({ key: `c${n}`, label: `n=${n} (CPU time)`, digits: 2 })),
      ],
      rows,
      notes: [
        'C = A·B (no transposes), kernels called directly through the registry (`kernelFor`), 2·n³ flops per product.',
        'Median over interleaved rounds after warm-up; each sample repeats the call for ≥ 20 ms. All backends are checked against the CPU reference.',
        'GFLOP/s from wall-clock time; "(CPU time)" uses the process CPU time of the same samples instead, which leaves out waiting for a core on a loaded machine.',
        'Reference points (shared/ENVIRONMENT.md, same machine kind): plain JS i-k-j 0.4–0.6 GFLOP/s; PyTorch sgemm (OpenBLAS) ~58 GFLOP/s.',
      ],
    },
  ];
}
