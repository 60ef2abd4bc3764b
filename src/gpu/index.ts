/**
 * GPU path, by concern: device/ (WebGPU in Node through Dawn, the asynchronous device API with its
 * gpu.js and WGSL kernels), probes/ (the device-resident curvature probes of the tanh MLP and the
 * GPT), host/ (backend selection, the probe worker's device host, the GPU → CPU fallback). The
 * synchronous gpu.js registry backend is src/kernels/gpujs.
 */
export {
  installWebGpu,
  describeAdapter,
  type AdapterDescription,
  type WebGpuInstall,
  type WebGpuSource,
} from './device/webgpu-shim.js';
export {
  selectGpuBackend,
  type GpuBackendKind,
  type GpuBackendSelection,
  type GpuPreference,
} from './host/backend.js';
export {
  DeviceArray,
  GpuDevice,
  type DeviceMatmulOptions,
  type GpuDeviceOptions,
  type MatmulImpl,
  type MlpGnbProbeOptions,
  type MlpGnbProbeResult,
  type MlpHutchinsonProbeOptions,
  type MlpHutchinsonProbeResult,
} from './device/device.js';
export { gptGnbProbe, type GptGnbProbeOptions, type GptGnbProbeResult } from './probes/gpt-gnb.js';
export {
  GpuFallback,
  mlpGnbDiag,
  withCpuFallback,
  type FallbackLogger,
  type MlpProbeRequest,
} from './host/fallback.js';
export {
  GpuProbeHost,
  deviceProbeProblem,
  type HostedEstimate,
  type ProbeHostOptions,
} from './host/probe-host.js';
