/**
 * Registers the BLAS backend of 'matmul' and 'affine' (and of the 'addInto' pass, passes.ts) when a
 * CBLAS library loads (library.ts) and the backend passes the same self-check as the WebAssembly one
 * (float32 within 1e-5 relative, float64 within 1e-12 of the CPU reference); it is then preferred
 * over the WebAssembly gemm. Select a backend explicitly with `useKernelBackend('matmul' | 'affine',
 * 'cpu' | 'wasm' | 'blas')`, or keep BLAS from loading with `HESSFLOW_BLAS=off` or
 * `HESSFLOW_KERNELS=exact` (mode.ts).
 *
 * Measured (bench/readings/cpu-speed.md): OpenBLAS 0.3.21 (Cooperlake kernel, one thread) runs the
 * MLP and char-GPT shapes at 90–100 GFLOP/s on the 2-vCPU Zen 4 VM, against 35–45 for the wasm gemm
 * with its copies in and out of WebAssembly memory.
 */
import { selfCheck } from '../cpu/matmul-self-check.js';
import { kernel, preferKernelBackend, registerKernel } from '../registry.js';
import { kernelMode } from '../mode.js';
import { type BlasLoad, loadBlas } from './library.js';
import { blasAffine, blasMatmul } from './matmul.js';
import { blasAddInto, blasAddIntoSelfCheck } from './passes.js';

const loaded: BlasLoad =
  kernelMode() === 'exact' ? { ok: false, reason: 'HESSFLOW_KERNELS=exact' } : loadBlas();

/** Whether the BLAS backend is registered and preferred, which library it uses, or why it is not. */
export type BlasStatus =
  { active: true; library: string; core: string; config: string } | { active: false; reason: string };

let status: BlasStatus;
if (loaded.ok) {
  const { blas } = loaded;
  const matmul = blasMatmul(blas);
  registerKernel('matmul', 'blas', matmul);
  registerKernel('affine', 'blas', blasAffine(blas));
  const check = selfCheck(matmul);
  if (check.f32 <= 1e-5 && check.f64 <= 1e-12) {
    preferKernelBackend('matmul', 'blas');
    preferKernelBackend('affine', 'blas');
    status = { active: true, library: blas.library, core: blas.core, config: blas.config };
  } else {
    status = {
      active: false,
      reason: `${blas.library} failed the self-check (relative error f32 ${check.f32}, f64 ${check.f64})`,
    };
  }
} else status = { active: false, reason: loaded.reason };

// The addInto pass (passes.ts): preferred where its own self-check passes; it falls back to the backend
// preferred before it for short or partly overlapping vectors.
if (loaded.ok) {
  const addInto = blasAddInto(loaded.blas.saxpy, kernel('addInto'));
  registerKernel('addInto', 'blas', addInto);
  if (blasAddIntoSelfCheck(addInto)) preferKernelBackend('addInto', 'blas');
}

export function blasStatus(): BlasStatus {
  return status;
}
