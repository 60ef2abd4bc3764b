/**
 * Loads every kernel backend: the CPU references, then WebAssembly SIMD, then BLAS for the matmuls
 * (blas/: a CBLAS library such as OpenBLAS through koffi, preferred where it loads), then the float32
 * WebAssembly kernels (wasm-f32/). `HESSFLOW_KERNELS=exact` keeps the last two out (mode.ts). Import order matters — the
 * registry requires a kernel's CPU reference before any other backend of it. gpu.js's synchronous
 * backend (gpujs/) registers only when asked (`registerGpuJsKernels`), loading gpu.js then.
 */
import './cpu/register.js';
import './wasm/index.js';
import './blas/index.js';
import './wasm-f32/index.js';

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
export { blasStatus, type BlasStatus } from './blas/index.js';
export { kernelMode, type KernelMode } from './mode.js';
export { describeKernels } from './describe.js';
export { wasmRelaxedSimdSupported, wasmSimdSupported } from './wasm/matmul.js';
export { registerGpuJsKernels, syncModeProblem, type SyncGpuJsMode } from './gpujs/sync.js';
