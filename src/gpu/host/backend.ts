/**
 * Backend selection for the GPU path (config `gpu: "auto" | "webgpu" | "webasm" | "cpu"`).
 *
 * - 'auto': WebGPU when a real GPU adapter answers, else the CPU path (the registry's kernels: its
 *   own WebAssembly SIMD ones where they pass their self-checks). Not gpu.js's WebAssembly backend:
 *   on a 784-256-256-10 MLP GNB probe (batch 128, 2-vCPU Xeon) it took 553–574 ms against the CPU
 *   path's 25–46 ms, so choosing it without being asked would slow training ~20×. Software WebGPU
 *   (Mesa llvmpipe, ~1 GFLOP/s) is for correctness tests, slower than the CPU kernels, so 'auto' does
 *   not pick it either (unless env HESSFLOW_WEBGPU=software); 'webgpu' accepts it (real GPU first,
 *   then software) and says so.
 * - 'webasm': gpu.js's WebAssembly backend (its kernels in the registry as `gpujs-webasm`), when it
 *   passes a self-check.
 * - An explicit choice that is unavailable throws an Error saying why (never a silent fallback).
 * The answer says which backend was chosen and why, for the log and the metrics.
 */
import {
  describeAdapter,
  installWebGpu,
  type AdapterDescription,
  type InstallOptions,
} from '../device/webgpu-shim.js';
import { syncModeProblem } from '../../kernels/gpujs/sync.js';

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
    return {
      kind: 'cpu',
      reason: `auto: ${notes.join('; ')}; the CPU kernels (gpu.js's WebAssembly ones are slower; ask for gpu: "webasm" to use them)`,
    };
  }

  const problem = syncModeProblem('webasm');
  if (problem)
    throw new Error(`gpu: "webasm" requested but gpu.js's WebAssembly backend is unavailable: ${problem}`);
  return { kind: 'webasm', reason: 'gpu.js WebAssembly backend passed its self-check' };
}
