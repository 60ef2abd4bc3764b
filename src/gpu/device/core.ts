/**
 * Device lifecycle and buffers for the asynchronous WebGPU API (device.ts): one Dawn device per
 * process, flat float32 storage buffers (`DeviceArray`), uploads and readbacks, the gpu.js kernel
 * cache and a cache of hand-written WGSL pipelines with their uniform buffers. The operation modules
 * (elementwise.ts, matmul.ts, ../probes, bench/device-updates) build on the members marked
 * "internal" here; callers use `GpuDevice`.
 */
import { LOOP_MAX_ITERATIONS, type KernelSource } from '../../kernels/gpujs/sources.js';
import {
  loadGpuJs,
  type BufferResult,
  type GpuJsInstance,
  type GpuJsKernel,
  type WebGpuContext,
} from '../../kernels/gpujs/load.js';
import {
  DeviceArray,
  checkSize,
  need,
  poisonNewBuffers,
  type GpuDeviceOptions,
  type MatmulImpl,
} from './array.js';
import { installWebGpu, type AdapterDescription } from './webgpu-shim.js';
import {
  BufferUsage,
  MapMode,
  type WgpuBindingResource,
  type WgpuBuffer,
  type WgpuComputePipeline,
  type WgpuDevice,
} from '../../kernels/gpujs/webgpu-types.js';

export { DeviceArray, checkSize, need, type GpuDeviceOptions, type MatmulImpl };

/** A cached WGSL pipeline and the uniform buffer its dispatches read. */
export interface WgslPipeline {
  pipeline: WgpuComputePipeline;
  /** Its bind group layout (group 0), fetched once. */
  layout: unknown;
  uniform: WgpuBuffer;
}

/** One dispatch of a WGSL pipeline: uniform contents, storage bindings 1…n in order, workgroup grid. */
export interface WgslDispatch {
  pipeline: WgslPipeline;
  uniforms: ArrayBuffer;
  bindings: WgpuBindingResource[];
  groups: [number, number?, number?];
}

export class GpuDeviceCore {
  private readonly gpu: GpuJsInstance;
  private readonly kernels = new Map<string, GpuJsKernel>();
  private readonly pipelines = new Map<string, WgslPipeline>();
  private readonly readback: { readBufferResult(handle: BufferResult): Promise<unknown> };
  private destroyed = false;
  readonly defaultMatmul: MatmulImpl;
  private workgroupCap: number;

  protected constructor(
    readonly adapter: AdapterDescription,
    private readonly context: WebGpuContext,
    options: GpuDeviceOptions,
  ) {
    this.gpu = new (loadGpuJs().GPU)({ mode: 'webgpu' });
    this.readback = {
      readBufferResult: (h) =>
        this.readBuffer(h.buffer, h.output.reduce((a, b) => a * b, 1) * h.componentCount),
    };
    this.defaultMatmul = options.matmul ?? 'wgsl';
    const maxG = context.device.limits.maxComputeWorkgroupsPerDimension;
    const cap = options.maxWorkgroups ?? maxG;
    checkSize('maxWorkgroups', cap, 1);
    this.workgroupCap = Math.min(cap, maxG);
  }

  /** Installs WebGPU and acquires gpu.js's shared device; throws with the reason when none answers. */
  protected static async acquire(
    options: GpuDeviceOptions,
  ): Promise<{ adapter: AdapterDescription; context: WebGpuContext }> {
    const inst = await installWebGpu();
    if (!inst.ok) throw new Error(`WebGPU unavailable: ${inst.reason}`);
    const context = await loadGpuJs().WebGPUContext.acquire();
    if (options.poisonNewBuffers) poisonNewBuffers(context.device);
    return { adapter: inst.adapter, context };
  }

  /** Cap on workgroups per elementwise WGSL dispatch (see GpuDeviceOptions.maxWorkgroups). */
  get maxWorkgroups(): number {
    return this.workgroupCap;
  }

  set maxWorkgroups(cap: number) {
    checkSize('maxWorkgroups', cap, 1);
    this.workgroupCap = Math.min(cap, this.device.limits.maxComputeWorkgroupsPerDimension);
  }

  get device(): WgpuDevice {
    return this.context.device;
  }

  get lost(): boolean {
    return this.context.isLost;
  }

  /** False once destroyed or lost: nothing more can run on this device. */
  get usable(): boolean {
    return !this.destroyed && !this.context.isLost;
  }

  /** @internal Throws when the device can no longer run work. */
  check(): void {
    if (this.destroyed) throw new Error('GpuDevice: used after destroy()');
    if (this.context.isLost) throw new Error('GpuDevice: the WebGPU device was lost');
  }

  /** @internal A DeviceArray over a raw buffer (the array owns it). */
  wrap(buffer: WgpuBuffer, length: number): DeviceArray {
    const { WebGPUBufferResult } = loadGpuJs();
    const handle = new WebGPUBufferResult({
      buffer,
      output: [length],
      componentCount: 1,
      context: this.context,
      kernel: this.readback,
    });
    return new DeviceArray(handle, length);
  }

  /** @internal A storage buffer for `length` floats. */
  createStorage(length: number): WgpuBuffer {
    const bytes = Math.max(4, length * 4);
    const limits = this.device.limits;
    const max = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    if (bytes > max)
      throw new RangeError(
        `GpuDevice: ${length} floats (${bytes} B) exceed this device's ${max} B per storage buffer`,
      );
    return this.device.createBuffer({
      size: bytes,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST,
    });
  }

  /** @internal A new, uninitialised device array. */
  alloc(length: number): DeviceArray {
    this.check();
    return this.wrap(this.createStorage(length), length);
  }

  /** Copies host data to a new device array (float64 input is rounded to float32). */
  upload(data: ArrayLike<number>): DeviceArray {
    this.check();
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    const buffer = this.createStorage(f32.length);
    if (f32.length > 0) this.device.queue.writeBuffer(buffer, 0, f32);
    return this.wrap(buffer, f32.length);
  }

  /** Overwrites the first data.length elements of a device array with host data. */
  write(x: DeviceArray, data: ArrayLike<number>): void {
    this.check();
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    need('write target', x, f32.length);
    if (f32.length > 0) this.device.queue.writeBuffer(this.live(x).buffer, 0, f32);
  }

  /** A new device array filled with `value`. */
  fill(length: number, value: number): DeviceArray {
    return this.upload(new Float32Array(length).fill(value));
  }

  private async readBuffer(buffer: WgpuBuffer, length: number): Promise<Float32Array> {
    const bytes = length * 4;
    if (bytes === 0) return new Float32Array(0);
    const staging = this.device.createBuffer({
      size: bytes,
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
    });
    try {
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(MapMode.READ, 0, bytes);
      const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
      staging.unmap();
      return out;
    } finally {
      staging.destroy();
    }
  }

  /** Reads a device array back (after all work queued before this call). */
  async download(x: DeviceArray, length = x.length): Promise<Float32Array> {
    this.check();
    if (x.freed) throw new Error('GpuDevice.download: array was freed');
    if (length > x.length) throw new RangeError(`GpuDevice.download: ${length} > length ${x.length}`);
    return this.readBuffer(x.buffer, length);
  }

  /** Waits until the device has finished all submitted work. */
  async sync(): Promise<void> {
    this.check();
    await this.device.queue.onSubmittedWorkDone();
  }

  // ---- gpu.js kernels ----

  private kernelFor(src: KernelSource, output: number[]): GpuJsKernel {
    const key = `${src.key}|${output.join('x')}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = this.gpu.createKernel(src.source, {
        output,
        pipeline: true,
        immutable: true,
        argumentTypes: src.argumentTypes,
        ...(src.returnType ? { returnType: src.returnType } : {}),
        loopMaxIterations: LOOP_MAX_ITERATIONS,
      });
      this.kernels.set(key, k);
    }
    return k;
  }

  /** @internal Runs a gpu.js kernel; its result as a flat device array (Array(n) results reinterpreted). */
  async run(src: KernelSource, output: number[], args: unknown[]): Promise<DeviceArray> {
    this.check();
    for (const d of output) checkSize('output dimension', d, 1);
    const kernel = this.kernelFor(src, output);
    const res = (await kernel(
      ...args.map((a) => (a instanceof DeviceArray ? this.live(a) : a)),
    )) as BufferResult;
    const total = output.reduce((a, b) => a * b, 1) * res.componentCount;
    if (res.componentCount === 1) return new DeviceArray(res, total);
    const flat = this.wrap(res.buffer, total);
    res.delete();
    return flat;
  }

  /** @internal The handle of an array that must not have been freed. */
  live(a: DeviceArray): BufferResult {
    if (a.freed) throw new Error('GpuDevice: a freed DeviceArray was passed to a kernel');
    return a.handle;
  }

  // ---- hand-written WGSL ----

  /** @internal The cached pipeline `key` (built from `code()` on first use) with a uniform buffer. */
  wgslPipeline(key: string, code: () => string, uniformBytes: number): WgslPipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: code() });
      const pipeline = this.device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      const uniform = this.device.createBuffer({
        size: uniformBytes,
        usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      });
      p = { pipeline, layout: pipeline.getBindGroupLayout(0), uniform };
      this.pipelines.set(key, p);
    }
    return p;
  }

  /**
   * @internal Encodes the dispatches in one compute pass and submits it. Each pipeline's uniform
   * buffer is written first (queue order), so two dispatches in one call need two pipelines.
   */
  dispatch(list: WgslDispatch[]): void {
    this.check();
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const d of list) {
      this.device.queue.writeBuffer(d.pipeline.uniform, 0, d.uniforms);
      const group = this.device.createBindGroup({
        layout: d.pipeline.layout,
        entries: [
          { binding: 0, resource: { buffer: d.pipeline.uniform } },
          ...d.bindings.map((resource, i) => ({ binding: i + 1, resource })),
        ],
      });
      pass.setPipeline(d.pipeline.pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(d.groups[0], d.groups[1] ?? 1, d.groups[2] ?? 1);
    }
    pass.end();
    this.device.queue.submit([enc.finish()]);
  }

  /** Releases every kernel and the process's device; the process can then exit. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const k of this.kernels.values()) k.destroy();
    this.kernels.clear();
    for (const p of this.pipelines.values()) p.uniform.destroy();
    this.pipelines.clear();
    await loadGpuJs().WebGPUContext.destroy();
  }
}
