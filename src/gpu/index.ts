/**
 * GPU path: WebGPU in Node through Dawn (webgpu-shim), backend selection, the asynchronous device API
 * with gpu.js and WGSL kernels (device), the GPT's device-resident GNB probe (device-gpt-probe), the
 * GPU → CPU fallback (fallback), and synchronous gpu.js registry kernels (sync).
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
  type AdahessianBuffers,
  type AdahessianStepOptions,
  type DeviceMatmulOptions,
  type EmaOptions,
  type GpuDeviceOptions,
  type MatmulImpl,
  type MlpGnbProbeOptions,
  type MlpGnbProbeResult,
  type MlpHutchinsonProbeOptions,
  type MlpHutchinsonProbeResult,
  type SophiaGBuffers,
  type SophiaGStepOptions,
} from './device.js';
export { gptGnbProbe, type GptGnbProbeOptions, type GptGnbProbeResult } from './device-gpt-probe.js';
export {
  GpuFallback,
  mlpGnbDiag,
  sophiaGStepHost,
  withCpuFallback,
  type FallbackLogger,
  type HostSophiaG,
  type MlpProbeRequest,
  type SophiaGFallbackOptions,
} from './fallback.js';
export {
  GpuProbeHost,
  deviceProbeProblem,
  type HostedEstimate,
  type ProbeHostOptions,
} from './probe-host.js';
export { SyncGpuJs, registerGpuJsKernels, syncModeProblem, type SyncGpuJsMode } from './sync.js';
