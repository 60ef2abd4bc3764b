/**
 * Which kernels a process prefers, from `HESSFLOW_KERNELS`:
 * - `fast` (the default): BLAS for the matmuls where a CBLAS library loads (blas/), and the float32
 *   WebAssembly kernels (wasm-f32/) for GELU, the softmax family, LayerNorm, tanh and Adam's moments.
 *   Results agree with the CPU reference to float32 rounding (each backend's measured error is in its
 *   file) and are the same on every run on one machine, but not bit for bit the reference, nor across
 *   CPUs where BLAS picks a different kernel.
 * - `exact`: the round-1 kernels — every WebAssembly kernel bit for bit the CPU reference except the
 *   matmul (its own fixed summation order), so the same bits on every x86-64 machine. For reproducing
 *   a recorded run exactly, or comparing against one made before the fast kernels.
 * Read once, when the kernels load; select single kernels with `useKernelBackend` instead.
 */
export type KernelMode = 'fast' | 'exact';

export const KERNEL_MODES: readonly KernelMode[] = ['fast', 'exact'];

/** The mode from the environment; an unknown value is an error naming the variable and the choices. */
export function kernelModeFrom(env: NodeJS.ProcessEnv = process.env): KernelMode {
  const v = env.HESSFLOW_KERNELS?.trim().toLowerCase();
  if (v === undefined || v === '') return 'fast';
  if ((KERNEL_MODES as readonly string[]).includes(v)) return v as KernelMode;
  throw new Error(
    `HESSFLOW_KERNELS=${env.HESSFLOW_KERNELS} is not a kernel mode: use 'fast' (the default) or 'exact'`,
  );
}

const mode = kernelModeFrom();

/** The mode the kernels were loaded in. */
export function kernelMode(): KernelMode {
  return mode;
}
