/**
 * Hand-written WGSL kernels of the simplest shape: one invocation per output index i < n, written
 * as a few statements over named storage buffers and named scalar uniforms. The GPT probe's kernels
 * (../probes/gpt-src/kernels/gpujs/sources.ts) are of this shape; WGSL rather than gpu.js because they need integer index
 * arithmetic (i / C, i % T, token ids as indices), which gpu.js's translation turns into float
 * arithmetic (see src/kernels/gpujs/sources.ts), and because several of them update a buffer in place (the gradient
 * vector the probe assembles). Workgroups are 64 wide and loop grid-stride, so any n is covered by
 * one 1-D dispatch within the device's workgroup limit.
 */
import { checkSize, type DeviceArray, type GpuDeviceCore } from './core.js';
import { gridStrideSource } from './wgsl-grid-stride.js';

export const ELEMENTWISE_WORKGROUP = 64;

export interface WgslElementKernel {
  /** Cache key; the source is determined by it. */
  readonly key: string;
  /** Buffers written (read_write), bound first. */
  readonly rw: readonly string[];
  /** Buffers only read, bound after the read_write ones. */
  readonly ro: readonly string[];
  /** u32 uniforms (sizes, element offsets into the flat θ), read as p.name. */
  readonly u32: readonly string[];
  /** f32 uniforms, read as p.name. */
  readonly f32?: readonly string[];
  /** Statements for index i (a u32, i < p.n). */
  readonly body: string;
}

function fieldsOf(k: WgslElementKernel): string[] {
  const f = [
    'n : u32',
    'stride : u32',
    ...k.u32.map((n) => `${n} : u32`),
    ...(k.f32 ?? []).map((n) => `${n} : f32`),
  ];
  // every field is 4 bytes: pad the block to a whole number of 16-byte rows
  while (f.length % 4 !== 0) f.push(`pad${f.length} : u32`);
  return f;
}

export function elementKernelSource(k: WgslElementKernel): string {
  return gridStrideSource({
    preamble: [`struct P { ${fieldsOf(k).join(', ')} }`],
    element: 'f32',
    rw: k.rw,
    ro: k.ro,
    workgroup: ELEMENTWISE_WORKGROUP,
    start: 'gid.x',
    body: k.body,
  });
}

/**
 * Runs kernel `k` over i < n. `buffers` are the rw then ro buffers in the kernel's order (a buffer
 * may not appear twice when one of them is written: WebGPU forbids aliasing a writable binding);
 * `u32` and `f32` the uniform values in the kernel's order.
 */
export function runElementKernel(
  dev: GpuDeviceCore,
  k: WgslElementKernel,
  n: number,
  buffers: readonly DeviceArray[],
  u32: readonly number[],
  f32: readonly number[] = [],
): void {
  checkSize(`${k.key}: n`, n, 1);
  if (buffers.length !== k.rw.length + k.ro.length)
    throw new Error(`${k.key}: ${buffers.length} buffers given, ${k.rw.length + k.ro.length} expected`);
  if (u32.length !== k.u32.length || f32.length !== (k.f32?.length ?? 0))
    throw new Error(`${k.key}: wrong number of uniforms`);
  for (const v of u32) checkSize(`${k.key}: uniform`, v, 0);
  const fields = fieldsOf(k).length;
  const gx = Math.min(Math.ceil(n / ELEMENTWISE_WORKGROUP), dev.maxWorkgroups);
  const buf = new ArrayBuffer(fields * 4);
  new Uint32Array(buf, 0, 2 + u32.length).set([n, gx * ELEMENTWISE_WORKGROUP, ...u32]);
  new Float32Array(buf, (2 + u32.length) * 4, f32.length).set(f32);
  dev.dispatch([
    {
      pipeline: dev.wgslPipeline(`elem:${k.key}`, () => elementKernelSource(k), fields * 4),
      uniforms: buf,
      bindings: buffers.map((a) => ({ buffer: dev.live(a).buffer })),
      groups: [gx],
    },
  ]);
}
