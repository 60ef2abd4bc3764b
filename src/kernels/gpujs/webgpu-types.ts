/**
 * The small part of the WebGPU API this package touches, typed structurally so that the global
 * `@webgpu/types` declarations never leak into the rest of the project's type-check.
 */

export interface WgpuLimits {
  readonly [name: string]: number | undefined;
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxStorageBuffersPerShaderStage: number;
}

export interface WgpuAdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly isFallbackAdapter?: boolean;
}

export interface WgpuBuffer {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
  /** gpu.js's reference count on buffers it shares between results. */
  _refs?: number;
}

export interface WgpuComputePass {
  setPipeline(p: unknown): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

export interface WgpuCommandEncoder {
  beginComputePass(): WgpuComputePass;
  copyBufferToBuffer(
    src: WgpuBuffer,
    srcOffset: number,
    dst: WgpuBuffer,
    dstOffset: number,
    size: number,
  ): void;
  finish(): unknown;
}

export interface WgpuShaderModule {
  getCompilationInfo(): Promise<{
    messages: readonly { type: string; message: string; lineNum: number; linePos: number }[];
  }>;
}

/** A buffer binding: the whole buffer, or `size` bytes from `offset`. */
export interface WgpuBindingResource {
  buffer: WgpuBuffer;
  offset?: number;
  size?: number;
}

export interface WgpuComputePipeline {
  getBindGroupLayout(index: number): unknown;
}

export interface WgpuDevice {
  readonly limits: WgpuLimits;
  readonly queue: {
    writeBuffer(
      buffer: WgpuBuffer,
      offset: number,
      data: ArrayBufferView | ArrayBuffer,
      dataOffset?: number,
      size?: number,
    ): void;
    submit(buffers: unknown[]): void;
    onSubmittedWorkDone(): Promise<void>;
  };
  readonly lost: Promise<{ reason: string; message: string }>;
  createBuffer(desc: { size: number; usage: number; mappedAtCreation?: boolean }): WgpuBuffer;
  createShaderModule(desc: { code: string }): WgpuShaderModule;
  createComputePipeline(desc: {
    layout: 'auto';
    compute: { module: WgpuShaderModule; entryPoint: string };
  }): WgpuComputePipeline;
  createComputePipelineAsync?(desc: {
    layout: 'auto';
    compute: { module: WgpuShaderModule; entryPoint: string };
  }): Promise<WgpuComputePipeline>;
  createBindGroup(desc: {
    layout: unknown;
    entries: { binding: number; resource: WgpuBindingResource }[];
  }): unknown;
  createCommandEncoder(): WgpuCommandEncoder;
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<{ message: string } | null>;
  destroy(): void;
}

export interface WgpuAdapter {
  readonly info: WgpuAdapterInfo;
  readonly limits: WgpuLimits;
  readonly features: Iterable<string>;
  readonly featureLevel?: string;
  requestDevice(desc?: {
    requiredLimits?: Record<string, number>;
    requiredFeatures?: string[];
  }): Promise<WgpuDevice>;
}

export interface WgpuInstance {
  requestAdapter(options?: Record<string, unknown>): Promise<WgpuAdapter | null>;
  readonly wgslLanguageFeatures?: unknown;
}

/** GPUBufferUsage / GPUMapMode values (fixed by the WebGPU spec). */
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;
export const MapMode = { READ: 0x0001 } as const;
