/**
 * Provides `navigator.gpu` in Node from Dawn's npm package (`webgpu@0.3.10`, see
 * ../shared/ENVIRONMENT.md for why that exact version), once per process.
 *
 * Order of attempts: a real GPU first (Dawn's default backends, Vulkan on Linux, with
 * `powerPreference: 'high-performance'`), then software WebGPU (Dawn over OpenGL ES on Mesa
 * llvmpipe: flags `['backend=opengles']`, adapter option `featureLevel: 'compatibility'`,
 * `EGL_PLATFORM=surfaceless`). The answer — the adapter's description, or why none answered — is
 * memoised per set of sources tried, and at most one adapter ever backs `navigator.gpu`. Nothing here runs at import time, and
 * `installWebGpu` never rejects.
 *
 * Adapters handed out through the shim raise the few compute limits the kernels need (workgroup
 * size, workgroup memory, storage buffers per stage) to what the adapter offers: the spec defaults
 * (and compatibility mode's lower ones: 128 invocations per workgroup) are below what tiled matmul
 * uses, and gpu.js requests its device with defaults for everything but buffer sizes.
 */
import { MissingOptionalDependencyError, importOptional } from '../../util/optional-dependency.js';
import type { WgpuAdapter, WgpuInstance, WgpuLimits } from '../../kernels/gpujs/webgpu-types.js';

export type WebGpuSource = 'native' | 'software';

export interface AdapterDescription {
  /** 'native': a real GPU through Dawn's default backends; 'software': Dawn on OpenGL ES (llvmpipe). */
  source: WebGpuSource;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Dawn toggles/flags the instance was created with. */
  flags: string[];
  /** Options passed to requestAdapter. */
  adapterOptions: Record<string, string>;
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeWorkgroupsPerDimension: number;
    maxStorageBuffersPerShaderStage: number;
  };
}

export type WebGpuInstall = { ok: true; adapter: AdapterDescription } | { ok: false; reason: string };

export interface InstallOptions {
  /**
   * Which sources to try, in order. Default: ['native', 'software']; env HESSFLOW_WEBGPU=native|software|off
   * narrows it. Env HESSFLOW_DAWN_FLAGS (space-separated) adds Dawn instance flags, e.g.
   * `enable-dawn-features=disable_robustness` for benchmarking without bounds checks.
   */
  sources?: readonly WebGpuSource[];
}

/** Limits raised on every device requested through the shim, to the adapter's maximum. */
const RAISED_LIMITS = [
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
] as const;

interface DawnModule {
  create(flags: string[]): WgpuInstance;
  globals: Record<string, unknown>;
}

/** Answers by the sources tried ('native,software', …): each set is tried once per process. */
const installs = new Map<string, Promise<WebGpuInstall>>();
/** The adapter navigator.gpu was installed from, once one answered (at most one per process). */
let installedAdapter: AdapterDescription | null = null;
let serial: Promise<void> = Promise.resolve();
/** Dawn instances stay referenced for the life of the process (a collected instance loses its devices). */
const instances: WgpuInstance[] = [];

function sourcesFromEnv(): WebGpuSource[] | null {
  const v = process.env.HESSFLOW_WEBGPU;
  if (v === 'native') return ['native'];
  if (v === 'software') return ['software'];
  if (v === 'off' || v === '0' || v === 'none') return [];
  return null;
}

function pickLimits(l: WgpuLimits): AdapterDescription['limits'] {
  return {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
}

/** Wraps requestDevice on an adapter so its devices get the raised compute limits. */
function raiseLimits(adapter: WgpuAdapter): WgpuAdapter {
  const original = adapter.requestDevice.bind(adapter);
  const patched: WgpuAdapter['requestDevice'] = (desc = {}) => {
    const requiredLimits: Record<string, number> = {};
    for (const name of RAISED_LIMITS) {
      const v = adapter.limits[name];
      if (typeof v === 'number') requiredLimits[name] = v;
    }
    Object.assign(requiredLimits, desc.requiredLimits ?? {});
    return original({ ...desc, requiredLimits });
  };
  try {
    Object.defineProperty(adapter, 'requestDevice', { value: patched, configurable: true, writable: true });
    return adapter;
  } catch {
    return adapter; // a frozen adapter keeps the default limits; the kernels size themselves from device limits
  }
}

async function tryOne(
  dawn: DawnModule,
  source: WebGpuSource,
): Promise<
  | {
      ok: true;
      instance: WgpuInstance;
      adapter: WgpuAdapter;
      flags: string[];
      options: Record<string, string>;
    }
  | { ok: false; reason: string }
> {
  const extra = (process.env.HESSFLOW_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const flags = [...(source === 'native' ? [] : ['backend=opengles']), ...extra];
  const options: Record<string, string> =
    source === 'native' ? { powerPreference: 'high-performance' } : { featureLevel: 'compatibility' };
  if (source === 'software' && !process.env.EGL_PLATFORM) process.env.EGL_PLATFORM = 'surfaceless';
  let instance: WgpuInstance;
  try {
    instance = dawn.create(flags);
  } catch (e) {
    return {
      ok: false,
      reason: `${source}: Dawn create(${JSON.stringify(flags)}) failed: ${(e as Error).message}`,
    };
  }
  let adapter: WgpuAdapter | null;
  try {
    adapter = await instance.requestAdapter(options);
  } catch (e) {
    return { ok: false, reason: `${source}: requestAdapter failed: ${(e as Error).message}` };
  }
  if (!adapter) {
    const hint =
      source === 'native'
        ? 'no GPU adapter (no Vulkan driver/loader, or no GPU)'
        : 'no OpenGL ES adapter (Mesa missing? apt-get install -y libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri; EGL_PLATFORM=surfaceless)';
    return { ok: false, reason: `${source}: ${hint}` };
  }
  if (source === 'native' && adapter.info?.isFallbackAdapter) {
    return {
      ok: false,
      reason: `native: only a fallback (CPU) adapter answered (${adapter.info.description})`,
    };
  }
  instances.push(instance);
  return { ok: true, instance, adapter, flags, options };
}

async function install(sources: readonly WebGpuSource[]): Promise<WebGpuInstall> {
  if (sources.length === 0)
    return { ok: false, reason: 'WebGPU disabled (HESSFLOW_WEBGPU=off or no sources)' };
  if (installedAdapter) {
    return sources.includes(installedAdapter.source)
      ? { ok: true, adapter: installedAdapter }
      : {
          ok: false,
          reason: `this process already provides WebGPU from the ${installedAdapter.source} adapter`,
        };
  }
  let dawn: DawnModule;
  try {
    dawn = await importOptional<DawnModule>('webgpu');
  } catch (e) {
    const message = e instanceof MissingOptionalDependencyError ? e.message : (e as Error).message;
    return { ok: false, reason: `the 'webgpu' package (Dawn) could not be loaded: ${message}` };
  }
  const reasons: string[] = [];
  for (const source of sources) {
    const r = await tryOne(dawn, source);
    if (!r.ok) {
      reasons.push(r.reason);
      continue;
    }
    const { instance, adapter, flags } = r;
    const adapterOptions = r.options;
    Object.assign(globalThis, dawn.globals);
    const gpu = {
      requestAdapter: async (o: Record<string, unknown> = {}) => {
        const a = await instance.requestAdapter({ ...adapterOptions, ...o });
        return a ? raiseLimits(a) : null;
      },
      getPreferredCanvasFormat: () => 'rgba8unorm',
      wgslLanguageFeatures: instance.wgslLanguageFeatures,
    };
    const g = globalThis as { navigator?: object };
    if (g.navigator === undefined) {
      Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    } else {
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
    }
    const info = adapter.info ?? { vendor: '', architecture: '', device: '', description: '' };
    installedAdapter = {
      source,
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      flags,
      adapterOptions,
      limits: pickLimits(adapter.limits),
    };
    return { ok: true, adapter: installedAdapter };
  }
  return { ok: false, reason: reasons.join('; ') };
}

/**
 * Installs `navigator.gpu` (once per process) and says which adapter answered, or why none did.
 * Never rejects.
 */
export function installWebGpu(options: InstallOptions = {}): Promise<WebGpuInstall> {
  const sources = options.sources ?? sourcesFromEnv() ?? ['native', 'software'];
  const key = sources.join(',');
  let p = installs.get(key);
  if (!p) {
    // one attempt at a time, so two callers never install two adapters
    p = serial
      .then(() => install(sources))
      .catch((e: unknown) => ({ ok: false as const, reason: String(e) }));
    serial = p.then(() => undefined);
    installs.set(key, p);
  }
  return p;
}

/** A one-line description of an adapter for logs and metrics. */
export function describeAdapter(a: AdapterDescription): string {
  const name = a.device || a.description || a.vendor || 'unknown adapter';
  return `${name} (${a.source}${a.description && a.description !== name ? `, ${a.description}` : ''})`;
}
