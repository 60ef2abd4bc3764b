/**
 * How a float32 kernel registers (see index.ts). Kept apart from index.ts because each kernel file
 * imports this at load time while index.ts imports the kernel files: ES module imports are evaluated
 * before the importing module's body, so a kernel file that read index.ts's constants would find
 * them not yet initialised.
 */
// The CPU references and the exact backends register first (the registry requires the reference
// first, and the exact backends' preference must not override this one's), also when a kernel file is
// imported on its own.
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
