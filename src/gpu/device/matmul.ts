/**
 * Matmul on the device: the tiled WGSL kernels (wgsl-matmul.ts, sized to the device's limits) and
 * the gpu.js forms kept for comparison. `GpuDevice.matmul` calls `matmul` here.
 */
import { checkSize, need, type DeviceArray, type GpuDeviceCore, type MatmulImpl } from './core.js';
import { matmulSource, matmulTiledSource } from '../../kernels/gpujs/sources.js';
import {
  MATMUL_UNIFORM_BYTES,
  WGSL_MATMUL_128,
  WGSL_MATMUL_64,
  WGSL_MATMUL_SMALL,
  threadsOf,
  wgslMatmulSource,
  workgroupBytesOf,
  type WgslMatmulConfig,
} from './wgsl-matmul.js';

export interface DeviceMatmulOptions {
  m: number;
  n: number;
  k: number;
  /** A is stored [k, m] (else [m, k]). */
  transA?: boolean;
  /** B is stored [n, k] (else [k, n]). */
  transB?: boolean;
  /** Element offsets of A's and B's first matrix. */
  aOffset?: number;
  bOffset?: number;
  /** Batched product (WGSL kernels only): item t uses A at aOffset + t·aStride, B at bOffset + t·bStride. */
  batch?: number;
  aStride?: number;
  bStride?: number;
  /** Which kernel; default 'wgsl' (the tiled WGSL kernel sized for this device). */
  impl?: MatmulImpl;
  /** WGSL kernels only: write into this array (at outOffset) instead of a fresh one. */
  out?: DeviceArray;
  outOffset?: number;
}

/** C = op(A)·op(B), [m, n] (or [batch, m, n]) row-major. */
export async function matmul(
  dev: GpuDeviceCore,
  a: DeviceArray,
  b: DeviceArray,
  o: DeviceMatmulOptions,
): Promise<DeviceArray> {
  const { m, n, k } = o;
  checkSize('m', m, 1);
  checkSize('n', n, 1);
  checkSize('k', k, 1);
  const transA = o.transA ?? false;
  const transB = o.transB ?? false;
  const aOff = o.aOffset ?? 0;
  const bOff = o.bOffset ?? 0;
  const batch = o.batch ?? 1;
  const aStride = o.aStride ?? m * k;
  const bStride = o.bStride ?? k * n;
  need('A', a, aOff + (batch - 1) * aStride + m * k);
  need('B', b, bOff + (batch - 1) * bStride + k * n);
  let impl = o.impl ?? dev.defaultMatmul;
  if (impl === 'wgsl') impl = pickWgsl(dev, m, n);
  if (impl === 'gpujs' || impl === 'gpujs-tiled') {
    if (batch !== 1 || o.out)
      throw new Error(`GpuDevice.matmul: impl ${impl} supports neither batch nor out`);
    const tiled = impl === 'gpujs-tiled' && n % 4 === 0;
    const src = tiled ? matmulTiledSource(transA, transB) : matmulSource(transA, transB);
    return dev.run(src, [tiled ? n / 4 : n, m], [a, b, m, n, k, aOff, bOff]);
  }
  const config =
    impl === 'wgsl-128' ? WGSL_MATMUL_128 : impl === 'wgsl-64' ? WGSL_MATMUL_64 : WGSL_MATMUL_SMALL;
  dev.check();
  const cStride = m * n;
  const outOffset = o.outOffset ?? 0;
  const outLen = outOffset + batch * cStride;
  let out = o.out;
  if (out) need('out', out, outLen);
  else out = dev.alloc(outLen);
  const gx = Math.ceil(n / config.BN);
  const gy = Math.ceil(m / config.BM);
  const maxG = dev.device.limits.maxComputeWorkgroupsPerDimension;
  if (gx > maxG || gy > maxG || batch > maxG)
    throw new RangeError(`GpuDevice.matmul: ${gx}×${gy}×${batch} workgroups exceed ${maxG} per dimension`);
  const pipeline = matmulPipeline(dev, transA, transB, config);
  const u = new Uint32Array([m, n, k, batch, aOff, bOff, outOffset, aStride, bStride, cStride, 0, 0]);
  dev.dispatch([
    {
      pipeline,
      uniforms: u.buffer,
      bindings: [{ buffer: dev.live(a).buffer }, { buffer: dev.live(b).buffer }, { buffer: out.buffer }],
      groups: [gx, gy, batch],
    },
  ]);
  return out;
}

/** The WGSL tile that fits this device (and is not wasteful for small products). */
function pickWgsl(dev: GpuDeviceCore, m: number, n: number): MatmulImpl {
  const l = dev.device.limits;
  const fits = (c: WgslMatmulConfig) =>
    threadsOf(c) <= l.maxComputeInvocationsPerWorkgroup &&
    workgroupBytesOf(c) <= l.maxComputeWorkgroupStorageSize;
  // 128×128 blocks only once there are ≥ 256 of them (enough to fill a large GPU's SMs)
  if (m * n >= 2048 * 2048 && fits(WGSL_MATMUL_128)) return 'wgsl-128';
  if (m >= 64 && n >= 64 && fits(WGSL_MATMUL_64)) return 'wgsl-64';
  return 'wgsl-small';
}

function matmulPipeline(dev: GpuDeviceCore, transA: boolean, transB: boolean, c: WgslMatmulConfig) {
  const key = `matmul:${+transA}${+transB}:${c.BM}x${c.BN}x${c.BK}:${c.TM}x${c.TN}`;
  const l = dev.device.limits;
  if (
    threadsOf(c) > l.maxComputeInvocationsPerWorkgroup ||
    workgroupBytesOf(c) > l.maxComputeWorkgroupStorageSize
  ) {
    throw new Error(
      `GpuDevice: WGSL matmul tile ${key} needs ${threadsOf(c)} invocations / ${workgroupBytesOf(c)} B; device allows ${l.maxComputeInvocationsPerWorkgroup} / ${l.maxComputeWorkgroupStorageSize}`,
    );
  }
  return dev.wgslPipeline(key, () => wgslMatmulSource(transA, transB, c), MATMUL_UNIFORM_BYTES);
}
