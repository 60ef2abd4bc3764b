/**
 * Where the float32 kernels register (index.ts re-exports it): apart from index.ts, so that each kernel
 * file, imported by index.ts, can import this without an import cycle — in a cycle the kernel file
 * would run before index.ts's own constants exist.
 */
// The CPU references and the exact backends first: the registry takes a backend only after its
// kernel's reference, and a float32 backend is preferred over the exact one only if it comes later.
import '../wasm/index.js';
import { kernelMode } from '../mode.js';
import { type KernelName, type KernelSignatures, preferKernelBackend, registerKernel } from '../registry.js';
import { wasmSimdSupported } from '../wasm/matmul.js';

export const F32_BACKEND = 'wasm-f32';

/** Whether the float32 kernels may register: SIMD present and the mode is 'fast'. */
export const f32KernelsEnabled = wasmSimdSupported() && kernelMode() === 'fast';

/**
 * Registers `impl` as kernel `name`'s float32 backend and prefers it when `check` (its self-check
 * against the CPU reference) passes. Returns whether it is preferred.
 */
export function registerF32Kernel<K extends KernelName>(
  name: K,
  impl: KernelSignatures[K],
  check: (impl: KernelSignatures[K]) => boolean,
): boolean {
  registerKernel(name, F32_BACKEND, impl);
  if (!check(impl)) return false;
  preferKernelBackend(name, F32_BACKEND);
  return true;
}
