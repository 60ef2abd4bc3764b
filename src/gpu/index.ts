/**
 * GPU path: WebGPU in Node through Dawn (webgpu-shim), backend selection, the asynchronous device API
 * with gpu.js and WGSL kernels (device), and synchronous gpu.js registry kernels (sync).
 */
export {
  installWebGpu,
  describeAdapter,
  type AdapterDescription,
  type WebGpuInstall,
  type WebGpuSource,
} from './webgpu-shim.js';
export {
  selectGpuBackend,
  type GpuBackendKind,
  type GpuBackendSelection,
  type GpuPreference,
} from './backend.js';
export {
  DeviceArray,
  GpuDevice,
  type DeviceMatmulOptions,
  type GpuDeviceOptions,
  type MatmulImpl,
  type MlpGnbProbeOptions,
  type MlpGnbProbeResult,
  type SophiaGStepOptions,
} from './device.js';
export { SyncGpuJs, registerGpuJsKernels, syncModeProblem, type SyncGpuJsMode } from './sync.js';
