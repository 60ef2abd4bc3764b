/**
 * CPU time per step of the two steps issue #23 compares with PyTorch — the MLP 784-256-256-10 Adam
 * step (as bench/suites/tfjs.ts times it) and the reference char-GPT's AdamW Trainer step (as
 * bench/suites/gpt.ts) — and the default matmul's GFLOP/s on a 512³ float32 product, in one process,
 * medians of process CPU time (user + system; on a shared machine it leaves out the time spent
 * waiting for a core). Each step runs twice per round (see `abba`): with the kernels as they were
 * before the CPU-speed changes ('before': tanh from the CPU reference, batched products copied item
 * by item, s − b with a broadcast s in JavaScript; each selected as a registry backend) and with
 * today's defaults ('after'), on separate but identical models, so the ratio after/before within each
 * round compares the two under the same machine load. With `--baseline exact`, 'before' is instead
 * the exact kernels (HESSFLOW_KERNELS=exact's choice: the 'wasm' backend, or the CPU reference where
 * there is none, of every kernel whose default is BLAS or a float32 'wasm-f32' kernel) and 'after' the fast defaults. Prints one JSON line, with the
 * load average at start and end: `npx tsx bench/cpu-speed.ts [rounds] [--baseline pre-speed|exact]
 * [--name NAME]` (default 20 rounds, baseline pre-speed); with a name it also writes
 * bench/results/NAME.json (BENCHMARKS.md is left to `bench/report.ts`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfig } from '../src/cli/config.js';
import { modelSpecOf, setupData, trainerFor } from '../src/cli/run-setup.js';
import { cpuBinary } from '../src/kernels/cpu/elementwise.js';
import { affineSpec } from '../src/kernels/cpu/matmul.js';
import {
  activeKernelBackend,
  kernel,
  kernelBackends,
  kernelFor,
  registerKernel,
  registeredKernels,
  resetKernelBackend,
  useKernelBackend,
} from '../src/kernels/index.js';
import type { BinaryOp, KernelName, MatmulSpec } from '../src/kernels/registry.js';
import { WasmMatmul } from '../src/kernels/wasm/matmul.js';
import { buildModel } from '../src/nn/models/registry.js';
import { setFiniteChecks } from '../src/tensor/index.js';
import { describeMachine, loadAverage } from './lib/machine.js';
import { mlpAdamStep } from './lib/mlp-adam-step.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { median, pairedRatio } from './lib/timing.js';
import { RESULTS_SCHEMA, type Results } from './lib/types.js';
import { nonFinite } from './lib/validate.js';

const GPT_STEPS = 3;
const MLP_STEPS = 10;
const N = 512;

/** MLP_STEPS of the MLP Adam step (bench/lib/mlp-adam-step.ts, as bench/suites/tfjs.ts times it). */
function mlpStep(): () => void {
  const step = mlpAdamStep();
  return () => {
    for (let i = 0; i < MLP_STEPS; i++) step();
  };
}

/** The reference char-GPT's AdamW Trainer step (config/gpt-reference-adamw.json), as bench/suites/gpt.ts. */
function gptStep(): () => void {
  const config = { ...readConfig(join(repoRoot(), 'config/gpt-reference-adamw.json')), steps: 100_000 };
  const data = setupData(config);
  const trainer = trainerFor(config, data, buildModel(modelSpecOf(config, data)));
  return () => {
    for (let i = 0; i < GPT_STEPS; i++) trainer.step();
  };
}

function gemm512(): () => void {
  let s = 1;
  const fill = () =>
    Float32Array.from(
      { length: N * N },
      () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5,
    );
  const a = fill();
  const b = fill();
  const out = new Float32Array(N * N);
  const spec: MatmulSpec = {
    batch: 1,
    m: N,
    n: N,
    k: N,
    transA: false,
    transB: false,
    aOffsets: new Int32Array(1),
    bOffsets: new Int32Array(1),
  };
  // Looked up per call: the mode selected around the call decides the backend.
  return () => kernel('matmul')(a, b, out, spec);
}

/** Registers the 'before' backends: the kernels as they were before the CPU-speed changes. */
function registerBefore(): void {
  // Its own instance, for the affine kernel too: one memory for both, as the default instance has.
  const items = new WasmMatmul({ bulkBatches: false });
  registerKernel('matmul', 'bench:before', items.kernel);
  registerKernel('affine', 'bench:before', (x, w, bias, out, rows, k, n) =>
    items.run(x, w, out, affineSpec(rows, k, n), bias),
  );
  const binary = kernelFor('binary', 'wasm');
  if (!binary) throw new Error('cpu-speed: no wasm binary kernel to compare against');
  // A broadcast scalar first (s op b) went to the CPU reference.
  registerKernel('binary', 'bench:before', (op: BinaryOp) => (a, as, b, bs, out, shape) => {
    const scalarFirst = as.every((x) => x === 0) && !bs.every((x) => x === 0);
    (scalarFirst ? cpuBinary(op) : binary(op))(a, as, b, bs, out, shape);
  });
}

const PRE_SPEED: [KernelName, string][] = [
  ['matmul', 'bench:before'],
  ['affine', 'bench:before'],
  ['binary', 'bench:before'],
  ['unary', 'cpu'],
];

/** The exact kernels: 'wasm' (or the CPU reference where none) wherever the default is BLAS or float32. */
function exactBaseline(): [KernelName, string][] {
  return registeredKernels()
    .filter((k) => ['blas', 'wasm-f32'].includes(activeKernelBackend(k)))
    .map((k) => [k, kernelBackends(k).includes('wasm') ? 'wasm' : 'cpu']);
}

/** Runs `fn` with the 'before' kernels selected, or the defaults. */
function inMode(before: boolean, fn: () => void): () => void {
  return () => {
    for (const [name, backend] of BEFORE) {
      if (before) useKernelBackend(name, backend);
      else resetKernelBackend(name);
    }
    fn();
  };
}

/**
 * CPU milliseconds per call of `before` and `after`, each round timing both back to back, in the
 * order before-after on even rounds and after-before on odd ones: whichever runs second in a round
 * was measured up to 25% faster (char-GPT, the same kernels both times: caches and allocator state
 * left by the first), so the order alternates and the pair's ratio carries no order bias on average.
 */
function abba(before: () => void, after: () => void, rounds: number, warmup: number, minMs: number) {
  const cpuMs = (fn: () => void, times: number): number => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < times; i++) fn();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / times;
  };
  let single = Infinity;
  for (let i = 0; i < warmup; i++) single = Math.min(single, cpuMs(before, 1), cpuMs(after, 1));
  const times = single < minMs ? Math.ceil(minMs / Math.max(single, 1e-3)) : 1;
  const b: number[] = [];
  const a: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      b.push(cpuMs(before, times));
      a.push(cpuMs(after, times));
    } else {
      a.push(cpuMs(after, times));
      b.push(cpuMs(before, times));
    }
  }
  return { before: median(b), after: median(a), afterOverBefore: pairedRatio(a, b), beforeMs: b, afterMs: a };
}

const args = process.argv.slice(2);
const nameAt = args.indexOf('--name');
const name = nameAt >= 0 ? args[nameAt + 1] : undefined;
if (nameAt >= 0 && !/^[\w.-]+$/.test(name ?? ''))
  throw new Error(`--name: ${String(name)} is not a results name (letters, digits, . _ -)`);
const baselineAt = args.indexOf('--baseline');
const baseline = baselineAt >= 0 ? args[baselineAt + 1] : 'pre-speed';
if (baseline !== 'pre-speed' && baseline !== 'exact')
  throw new Error(`--baseline: ${String(baseline)} is not a baseline (pre-speed or exact)`);
const flagged = new Set<number>();
for (const at of [nameAt, baselineAt]) if (at >= 0) flagged.add(at).add(at + 1);
const positional = args.filter((_, i) => !flagged.has(i));
const rounds = Number(positional[0] ?? 20);
if (!Number.isInteger(rounds) || rounds < 2)
  throw new Error(`rounds: ${positional[0]} is not an integer ≥ 2 (rounds alternate the order)`);
const loadStart = loadAverage();
setFiniteChecks(false); // as in training: the Trainer checks loss, gradient and update itself
registerBefore();
const BEFORE: [KernelName, string][] = baseline === 'exact' ? exactBaseline() : PRE_SPEED;
if (BEFORE.length === 0) throw new Error('--baseline exact: no BLAS or float32 kernel is the default here');
const run = (make: () => () => void, per: number) => {
  const r = abba(inMode(true, make()), inMode(false, make()), rounds, 2, 500);
  return {
    beforeCpuMs: r.before / per,
    afterCpuMs: r.after / per,
    afterOverBefore: r.afterOverBefore,
    beforeRoundsMs: r.beforeMs.map((x) => x / per),
    afterRoundsMs: r.afterMs.map((x) => x / per),
  };
};
const gpt = run(gptStep, GPT_STEPS);
const mlp = run(mlpStep, MLP_STEPS);
const gemm = run(gemm512, 1);
for (const [name] of BEFORE) resetKernelBackend(name);
const gflops = (ms: number): number => (2 * N ** 3) / (ms * 1e6);
const machine = describeMachine(loadStart);
const summary = {
  gemm512CpuGflops: {
    before: gflops(gemm.beforeCpuMs),
    after: gflops(gemm.afterCpuMs),
    afterOverBeforeTime: gemm.afterOverBefore,
  },
  mlpStep: mlp,
  gptStep: gpt,
  rounds,
  baseline,
  exactKernels: baseline === 'exact' ? BEFORE.map(([k]) => k) : undefined,
  loadStart,
  loadEnd: machine.load[1],
};
console.log(JSON.stringify(summary));
if (name) {
  /** The ratios' spread: the rounds' after/before, lowest quarter and highest quarter. */
  const quartiles = (r: { beforeRoundsMs: number[]; afterRoundsMs: number[] }): string => {
    const x = r.afterRoundsMs.map((a, i) => a / r.beforeRoundsMs[i]).sort((p, q) => p - q);
    return `${x[Math.floor(x.length / 4)].toFixed(3)}–${x[Math.floor((3 * x.length) / 4)].toFixed(3)}`;
  };
  const results: Results = {
    schema: RESULTS_SCHEMA,
    name,
    suites: ['cpu-speed'],
    machine,
    sections: [
      {
        id: 'cpu-speed',
        title:
          baseline === 'exact'
            ? 'CPU time per step, exact kernels against the fast defaults (BLAS and float32 kernels; issue #23 item 2)'
            : 'CPU time per step, kernels before and after the CPU-speed changes (issue #23 item 2)',
        columns: [
          { key: 'step', label: 'step' },
          { key: 'before', label: 'before, CPU ms', digits: 2 },
          { key: 'after', label: 'after, CPU ms', digits: 2 },
          { key: 'ratio', label: 'after ÷ before', digits: 3 },
          { key: 'spread', label: 'ratio, middle half of rounds' },
        ],
        rows: [
          {
            step: 'MLP 784-256-256-10 Adam step',
            before: mlp.beforeCpuMs,
            after: mlp.afterCpuMs,
            ratio: mlp.afterOverBefore,
            spread: quartiles(mlp),
          },
          {
            step: 'char-GPT AdamW Trainer step',
            before: gpt.beforeCpuMs,
            after: gpt.afterCpuMs,
            ratio: gpt.afterOverBefore,
            spread: quartiles(gpt),
          },
          {
            step: `matmul ${N}³ float32 (ms per product)`,
            before: gemm.beforeCpuMs,
            after: gemm.afterCpuMs,
            ratio: gemm.afterOverBefore,
            spread: quartiles(gemm),
          },
        ],
        notes: [
          `bench/cpu-speed.ts, ${rounds} rounds, process CPU time (user + system), one process; each round times 'before' and 'after' back to back, in alternating order. Medians of the rounds; the ratio is the median of the rounds' after ÷ before.`,
          baseline === 'exact'
            ? `'before': the exact kernels, selected as registry backends (${BEFORE.map(([k, b]) => `${k} ${b}`).join(', ')}); 'after': the fast defaults (${machine.kernels}). Separate, identical models for the two.`
            : "'before': the kernels as they were before these changes, selected as registry backends (tanh from Math.tanh, batched products copied item by item, a broadcast scalar minus a tensor in JavaScript); 'after': today's defaults. Separate, identical models for the two.",
          `GEMM ${N}³: ${summary.gemm512CpuGflops.before.toFixed(1)} GFLOP/s before, ${summary.gemm512CpuGflops.after.toFixed(1)} after (CPU time).`,
          'CPU time on a loaded machine: no wall times and no ratio to PyTorch here; see the reading.',
        ],
      },
    ],
  };
  const problems = nonFinite(results);
  if (problems.length > 0) throw new Error(`cpu-speed: not finite, nothing written: ${problems.join(', ')}`);
  mkdirSync(resultsDir(), { recursive: true });
  const file = join(resultsDir(), `${name}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log(`wrote ${file}`);
}
