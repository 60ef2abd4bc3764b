/**
 * One line saying which kernels this process computes with — shown by `hessflow train`, stored in
 * its summary and in every benchmark record, since the kernel mode decides the last bits of a run.
 */
import { blasStatus } from './blas/index.js';
import { kernelMode } from './mode.js';
import { activeKernelBackend, registeredKernels } from './registry.js';

export function describeKernels(): string {
  const blas = blasStatus();
  const version = blas.active ? /OpenBLAS [0-9.]+/.exec(blas.config)?.[0] : undefined;
  const matmul = blas.active
    ? `matmul BLAS (${[version ?? blas.library, blas.core && `${blas.core} kernel`].filter(Boolean).join(', ')})`
    : `matmul ${activeKernelBackend('matmul')} (no BLAS: ${blas.reason})`;
  const f32 = registeredKernels().filter((k) => activeKernelBackend(k) === 'wasm-f32');
  return `${kernelMode()}: ${matmul}${f32.length ? `; float32 wasm: ${f32.join(', ')}` : ''}`;
}
