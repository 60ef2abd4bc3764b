/**
 * Where a step's CPU time goes, kernel by kernel: every registered kernel's active backend is wrapped
 * in a CPU-time counter (registered as backend 'bench:timed' and selected), then 30 Trainer steps of
 * the reference char-GPT (config/gpt-reference-adamw.json), or 300 MLP Adam steps with `--mlp`, are
 * run after 5 warm-up steps; prints CPU ms per step for each kernel (with its calls per step) and in all. A kernel called from
 * inside another (none today) counts once, in the outer. The 'unary' kernel keeps its own backend on
 * the char-GPT (selecting another would turn off GELU's saved exponentials, fused.ts). Run:
 * `npx tsx bench/kernel-times.ts [--mlp]`.
 */
import { join } from 'node:path';
import { readConfig } from '../src/cli/config.js';
import { modelSpecOf, setupData, trainerFor } from '../src/cli/run-setup.js';
import {
  activeKernelBackend,
  kernelFor,
  registerKernel,
  registeredKernels,
  useKernelBackend,
} from '../src/kernels/index.js';
import type { KernelName, KernelSignatures } from '../src/kernels/registry.js';
import { buildModel } from '../src/nn/models/registry.js';
import { setFiniteChecks } from '../src/tensor/index.js';
import { mlpAdamStep } from './lib/mlp-adam-step.js';
import { repoRoot } from './lib/paths.js';

const mlp = process.argv.includes('--mlp');
const cpuUs = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const spent = new Map<string, number>();
const calls = new Map<string, number>();
let depth = 0;
function timed<F extends (...args: never[]) => unknown>(label: string, fn: F): F {
  return ((...args: Parameters<F>) => {
    if (depth > 0) return fn(...args);
    depth++;
    const t0 = cpuUs();
    try {
      return fn(...args);
    } finally {
      depth--;
      spent.set(label, (spent.get(label) ?? 0) + cpuUs() - t0);
      calls.set(label, (calls.get(label) ?? 0) + 1);
    }
  }) as F;
}

for (const name of registeredKernels()) {
  if (name === 'unary' && !mlp) continue;
  const backend = activeKernelBackend(name);
  const impl = kernelFor(name, backend) as KernelSignatures[KernelName];
  const wrapped =
    name === 'unary' || name === 'binary'
      ? (op: string) => timed(`${name} ${op} (${backend})`, (impl as (op: string) => () => void)(op))
      : timed(`${name} (${backend})`, impl as () => void);
  registerKernel(name, 'bench:timed', wrapped as KernelSignatures[typeof name]);
  useKernelBackend(name, 'bench:timed');
}

setFiniteChecks(false); // as in training: the Trainer checks loss, gradient and update itself
let step: () => unknown;
if (mlp) step = mlpAdamStep();
else {
  const config = { ...readConfig(join(repoRoot(), 'config/gpt-reference-adamw.json')), steps: 100_000 };
  const data = setupData(config);
  const trainer = trainerFor(config, data, buildModel(modelSpecOf(config, data)));
  step = () => trainer.step();
}
for (let i = 0; i < 5; i++) step();
spent.clear();
calls.clear();
const steps = mlp ? 300 : 30;
const t0 = cpuUs();
for (let i = 0; i < steps; i++) step();
const total = (cpuUs() - t0) / 1000 / steps;
let inKernels = 0;
for (const [label, us] of [...spent].sort((a, b) => b[1] - a[1])) {
  inKernels += us;
  const n = (calls.get(label) ?? 0) / steps;
  console.log(
    `${label.padEnd(32)} ${(us / 1000 / steps).toFixed(2)} ms  ${n.toFixed(0).padStart(4)} calls, ${(us / steps / n).toFixed(1)} µs each`,
  );
}
console.log(`step ${total.toFixed(1)} CPU ms, in kernels ${(inKernels / 1000 / steps).toFixed(1)} ms`);
