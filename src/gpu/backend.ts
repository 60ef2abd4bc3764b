/**
 * Backend selection for the GPU path (config `gpu: "auto" | "webgpu" | "webasm" | "cpu"`).
 *
 * - 'auto': WebGPU when a real GPU adapter answers, else gpu.js's WebAssembly backend when it passes a
 *   self-check, else the CPU references. Software WebGPU (Mesa llvmpipe, ~1 GFLOP/s) is for
 *   correctness tests, slower than the CPU kernels, so 'auto' does not pick it (unless env
 *   HESSFLOW_WEBGPU=software); 'webgpu' accepts it (real GPU first, then software) and says so.
 * - An explicit choice that is unavailable throws an Error saying why (never a silent fallback).
 * The answer says which backend was chosen and why, for the log and the metrics.
 */
import {
  describeAdapter,
  installWebGpu,
  type AdapterDescription,
  type InstallOptions,
} from './webgpu-shim.js';
import { syncModeProblem } from './sync.js';

export type GpuPreference = 'auto' | 'webgpu' | 'webasm' | 'cpu';
export type GpuBackendKind = 'webgpu' | 'webasm' | 'cpu';

export interface GpuBackendSelection {
  kind: GpuBackendKind;
  /** Why this backend (and, for 'auto', why not the ones before it). */
  reason: string;
  /** The WebGPU adapter, when kind is 'webgpu'. */
  adapter?: AdapterDescription;
}

export interface SelectOptions {
  /** Passed to installWebGpu (which sources to try). */
  webgpu?: InstallOptions;
}

const PREFERENCES: readonly GpuPreference[] = ['auto', 'webgpu', 'webasm', 'cpu'];

export async function selectGpuBackend(
  pref: GpuPreference,
  options: SelectOptions = {},
): Promise<GpuBackendSelection> {
  if (!PREFERENCES.includes(pref)) {
    throw new Error(
      `gpu: unknown backend ${JSON.stringify(pref)}; use one of ${PREFERENCES.map((p) => `"${p}"`).join(', ')}`,
    );
  }
  if (pref === 'cpu') return { kind: 'cpu', reason: 'gpu: "cpu" requested; CPU reference kernels' };

  const notes: string[] = [];
  if (pref === 'webgpu' || pref === 'auto') {
    // auto: a real GPU only, unless HESSFLOW_WEBGPU (native | software | off) says otherwise
    const autoNative = pref === 'auto' && !options.webgpu && !process.env.HESSFLOW_WEBGPU;
    const w = await installWebGpu(autoNative ? { sources: ['native'] } : options.webgpu);
    if (w.ok) {
      return {
        kind: 'webgpu',
        reason: `${pref === 'auto' ? 'auto: ' : ''}WebGPU adapter ${describeAdapter(w.adapter)}`,
        adapter: w.adapter,
      };
    }
    if (pref === 'webgpu')
      throw new Error(`gpu: "webgpu" requested but no WebGPU adapter answered: ${w.reason}`);
    notes.push(`no WebGPU adapter (${w.reason})`);
  }

  const problem = syncModeProblem('webasm');
  if (!problem) {
    return {
      kind: 'webasm',
      reason: `${pref === 'auto' ? `auto: ${notes.join('; ')}; ` : ''}gpu.js WebAssembly backend passed its self-check`,
    };
  }
  if (pref === 'webasm')
    throw new Error(`gpu: "webasm" requested but gpu.js's WebAssembly backend is unavailable: ${problem}`);
  notes.push(problem);
  return { kind: 'cpu', reason: `auto: ${notes.join('; ')}; CPU reference kernels` };
}
