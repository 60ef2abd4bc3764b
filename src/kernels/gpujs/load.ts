/**
 * Loads gpu.js (CommonJS) lazily and types the part of it this package uses. Loading is deferred to
 * first use so importing src/gpu never fails on a machine where gpu.js cannot load.
 */
import { requireOptional } from '../../util/optional-dependency.js';
import type { WgpuAdapter, WgpuBuffer, WgpuDevice } from './webgpu-types.js';

export type GpuJsMode = 'webgpu' | 'webasm' | 'cpu';

/** A built gpu.js kernel (its run shortcut). */
export interface GpuJsKernel {
  (...args: unknown[]): unknown;
  setOutput(output: number[]): unknown;
  destroy(removeCanvasReferences?: boolean): void;
}

export interface GpuJsKernelSettings {
  output: number[];
  pipeline?: boolean;
  immutable?: boolean;
  argumentTypes?: Record<string, string>;
  returnType?: string;
  loopMaxIterations?: number;
  tactic?: string;
  precision?: string;
  dynamicOutput?: boolean;
  dynamicArguments?: boolean;
}

export interface GpuJsInstance {
  createKernel(source: string, settings: GpuJsKernelSettings): GpuJsKernel;
  destroy(): unknown;
}

export interface WebGpuContext {
  adapter: WgpuAdapter;
  device: WgpuDevice;
  isLost: boolean;
}

/** gpu.js's pipeline handle for a device buffer (src/backend/web-gpu/buffer-result.js). */
export interface BufferResult {
  readonly buffer: WgpuBuffer;
  readonly output: number[];
  readonly componentCount: number;
  readonly context: WebGpuContext;
  toArray(): Promise<unknown>;
  delete(): void;
  _deleted: boolean;
}

export interface BufferResultSettings {
  buffer: WgpuBuffer;
  output: number[];
  componentCount: number;
  context: WebGpuContext;
  kernel: { readBufferResult(handle: BufferResult): Promise<unknown> };
}

export interface GpuJsModule {
  GPU: new (settings: { mode: GpuJsMode }) => GpuJsInstance;
  WebGPUContext: { acquire(): Promise<WebGpuContext>; destroy(): Promise<void> };
  WebGPUBufferResult: new (settings: BufferResultSettings) => BufferResult;
}

let cached: GpuJsModule | null = null;

export function loadGpuJs(): GpuJsModule {
  if (!cached) {
    cached = requireOptional<GpuJsModule>('gpu.js');
  }
  return cached;
}
