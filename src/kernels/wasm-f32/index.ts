/**
 * The float32 WebAssembly kernels ('wasm-f32' backends): GELU, the softmax family and LayerNorm
 * computed as PyTorch computes them on a CPU — float32 arithmetic, four lanes at a time, polynomial
 * exponentials, sums in several partial accumulators — instead of the exact backends' float64
 * arithmetic in the CPU reference's order. They agree with the CPU reference to a few float32 ulps
 * (each file states its measured error) and run several times faster. Each registers, and is
 * preferred over the exact 'wasm' backend, only when its self-check against the CPU reference passes
 * and the kernel mode is 'fast' (mode.ts; `HESSFLOW_KERNELS=exact` keeps the exact kernels).
 */
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

// Each float32 kernel family registers itself below (one import per file).
