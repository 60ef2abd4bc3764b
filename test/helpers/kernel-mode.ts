/**
 * A kernel's registered backends and its active one in a fresh Node process under a given
 * `HESSFLOW_KERNELS` mode (read once, when the kernels load, so a test process cannot switch it).
 */
import { spawnSync } from 'node:child_process';
import type { KernelName } from '../../src/kernels/registry.js';

export function backendsUnderMode(
  name: KernelName,
  mode: string,
): { backends: string[]; active: string } | { error: string } {
  const script =
    "const k = await import('./src/kernels/index.ts');" +
    `console.log(JSON.stringify([k.kernelBackends('${name}'), k.activeKernelBackend('${name}')]));`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, HESSFLOW_KERNELS: mode },
    encoding: 'utf8',
  });
  if (run.status !== 0) return { error: `exit ${run.status}: ${run.stderr}` };
  const [backends, active] = JSON.parse(run.stdout.trim()) as [string[], string];
  return { backends, active };
}
