/**
 * Loads every kernel backend: the CPU references, then WebAssembly SIMD. Import order matters — the
 * registry requires a kernel's CPU reference before any other backend of it. gpu.js's synchronous
 * backend (gpujs/) registers only when asked (`registerGpuJsKernels`), loading gpu.js then.
 */
import './cpu/register.js';
import './wasm/index.js';

export {
  activeKernelBackend,
  kernel,
  kernelBackends,
  kernelFor,
  preferKernelBackend,
  registerKernel,
  registeredKernels,
  resetKernelBackend,
  useKernelBackend,
  withKernelBackend,
} from './registry.js';
export { wasmRelaxedSimdSupported, wasmSimdSupported } from './wasm/matmul.js';
export { registerGpuJsKernels, syncModeProblem, type SyncGpuJsMode } from './gpujs/sync.js';
