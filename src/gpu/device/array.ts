/** Device arrays, device options and argument checks shared by the device modules. */
import type { BufferResult } from '../../kernels/gpujs/load.js';
import { BufferUsage, type WgpuBuffer, type WgpuDevice } from '../../kernels/gpujs/webgpu-types.js';

/** A flat float32 array resident on the device. */
export class DeviceArray {
  constructor(
    /** gpu.js's handle (any gpu.js webgpu kernel accepts it as an array argument). */
    readonly handle: BufferResult,
    readonly length: number,
  ) {}

  get buffer(): WgpuBuffer {
    return this.handle.buffer;
  }

  get freed(): boolean {
    return this.handle._deleted;
  }

  /** Releases this reference to the buffer (the buffer is destroyed when no kernel holds it either). */
  free(): void {
    this.handle.delete();
  }
}

export type MatmulImpl = 'gpujs' | 'gpujs-tiled' | 'wgsl' | 'wgsl-64' | 'wgsl-128' | 'wgsl-small';

export interface GpuDeviceOptions {
  /** Matmul kernel used when a call does not say (default 'wgsl'). */
  matmul?: MatmulImpl;
  /**
   * Testing: every storage buffer created on the device from now on (kernel outputs included) starts
   * filled with NaN, so an element a kernel fails to write shows up. Process-wide and permanent.
   */
  poisonNewBuffers?: boolean;
  /**
   * Most workgroups one elementwise WGSL dispatch launches (default: the device's
   * maxComputeWorkgroupsPerDimension); longer arrays are covered by a grid-stride loop. Tests set it
   * low to exercise that loop at small sizes.
   */
  maxWorkgroups?: number;
}

export function checkSize(what: string, v: number, min = 0): void {
  if (!Number.isInteger(v) || v < min)
    throw new RangeError(`GpuDevice: ${what} must be an integer ≥ ${min}, got ${v}`);
}

/** Throws unless `a` holds at least `length` elements. */
export function need(what: string, a: DeviceArray, length: number): void {
  if (a.length < length) throw new RangeError(`GpuDevice: ${what} has ${a.length} elements, needs ${length}`);
}

const poisoned = new WeakSet<object>();

/** Makes the device's createBuffer fill new storage buffers with NaN (see GpuDeviceOptions). */
export function poisonNewBuffers(device: WgpuDevice): void {
  if (poisoned.has(device)) return;
  const create = device.createBuffer.bind(device);
  const patched: WgpuDevice['createBuffer'] = (desc) => {
    if (!(desc.usage & BufferUsage.STORAGE) || desc.mappedAtCreation || desc.size % 4 !== 0)
      return create(desc);
    const buffer = create({ ...desc, mappedAtCreation: true });
    new Float32Array(buffer.getMappedRange()).fill(NaN);
    buffer.unmap();
    return buffer;
  };
  Object.defineProperty(device, 'createBuffer', { value: patched, configurable: true, writable: true });
  poisoned.add(device);
}
