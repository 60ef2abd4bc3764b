/**
 * The asynchronous WebGPU device API: one Dawn device per process (held by the probe worker), data
 * uploaded once and kept on the device across a whole probe or update, only results read back.
 *
 * Kernels are gpu.js kernels (kernels.ts) built with `pipeline: true, immutable: true` — every call
 * returns a fresh device buffer, so earlier results are never overwritten (the aliasing pitfall of
 * `pipeline` without `immutable`) — plus a tiled WGSL matmul (wgsl-matmul.ts) on the same device.
 * All results are `DeviceArray`s: flat float32 buffers that any kernel here takes as input.
 *
 * Calls are ordered: each kernel submits its work at call time and WebGPU executes submits in order,
 * so a chain of calls needs no waiting; `download` waits for everything queued before it.
 */
import type { BinaryOp, UnaryOp } from '../kernels/registry.js';
import {
  loadGpuJs,
  type BufferResult,
  type GpuJsInstance,
  type GpuJsKernel,
  type WebGpuContext,
} from './gpujs.js';
import {
  LOOP_MAX_ITERATIONS,
  backTanhSource,
  biasGradSqSource,
  binarySource,
  emaSource,
  interleaveSource,
  linearSource,
  logSumExpRowsSource,
  matmulSource,
  matmulTiledSource,
  reduceRowsSource,
  sampleLabelsSource,
  softmaxXentGradSource,
  sophiaGSource,
  stridedSource,
  sumColsSource,
  unarySource,
  weightGradSqSource,
  whereSource,
  type KernelSource,
} from './kernels.js';
import { installWebGpu, type AdapterDescription } from './webgpu-shim.js';
import {
  BufferUsage,
  MapMode,
  type WgpuBuffer,
  type WgpuComputePipeline,
  type WgpuDevice,
} from './webgpu-types.js';
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

export interface SophiaGStepOptions {
  lr: number;
  weightDecay: number;
  b1: number;
  rho: number;
  /** Predictions per minibatch (Sophia-G's bs). */
  batchSize: number;
}

export interface MlpGnbProbeOptions {
  /** Layer widths [in, hidden…, classes]; tanh between layers (src/nn/models/mlp.ts with activation 'tanh'). */
  sizes: readonly number[];
  /** Flat parameters in the MLP's layout (layers.{l}.weight [out, in], then layers.{l}.bias). */
  params: DeviceArray;
  /** Features [rows, sizes[0]]. */
  inputs: DeviceArray;
  rows: number;
  /** Either fixed labels (class ids) … */
  labels?: DeviceArray;
  /** … or one uniform in [0, 1) per row to sample labels from the model's softmax (as sampleLabels on the CPU). */
  uniforms?: DeviceArray;
  /** Also read back the sampled labels. */
  returnLabels?: boolean;
}

export interface MlpGnbProbeResult {
  /** ĝ⊙ĝ in the flat parameter layout. */
  diag: Float32Array;
  labels?: Int32Array;
}

export interface GpuDeviceOptions {
  /** Matmul kernel used when a call does not say (default 'wgsl'). */
  matmul?: MatmulImpl;
  /**
   * Testing: every storage buffer created on the device from now on (kernel outputs included) starts
   * filled with NaN, so an element a kernel fails to write shows up. Process-wide and permanent.
   */
  poisonNewBuffers?: boolean;
}

function checkSize(what: string, v: number, min = 0): void {
  if (!Number.isInteger(v) || v < min)
    throw new RangeError(`GpuDevice: ${what} must be an integer ≥ ${min}, got ${v}`);
}

export class GpuDevice {
  private readonly gpu: GpuJsInstance;
  private readonly kernels = new Map<string, GpuJsKernel>();
  private readonly pipelines = new Map<string, { pipeline: WgpuComputePipeline; uniform: WgpuBuffer }>();
  private readonly readback: { readBufferResult(handle: BufferResult): Promise<unknown> };
  private destroyed = false;
  readonly defaultMatmul: MatmulImpl;

  private constructor(
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
  }

  /** Opens the process's WebGPU device; throws with the reason when no adapter answers. */
  static async open(options: GpuDeviceOptions = {}): Promise<GpuDevice> {
    const inst = await installWebGpu();
    if (!inst.ok) throw new Error(`WebGPU unavailable: ${inst.reason}`);
    const context = await loadGpuJs().WebGPUContext.acquire();
    if (options.poisonNewBuffers) poisonNewBuffers(context.device);
    return new GpuDevice(inst.adapter, context, options);
  }

  get device(): WgpuDevice {
    return this.context.device;
  }

  get lost(): boolean {
    return this.context.isLost;
  }

  private check(): void {
    if (this.destroyed) throw new Error('GpuDevice: used after destroy()');
    if (this.context.isLost) throw new Error('GpuDevice: the WebGPU device was lost');
  }

  private wrap(buffer: WgpuBuffer, length: number): DeviceArray {
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

  private createStorage(length: number): WgpuBuffer {
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

  /** Copies host data to a new device array (float64 input is rounded to float32). */
  upload(data: ArrayLike<number>): DeviceArray {
    this.check();
    const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
    const buffer = this.createStorage(f32.length);
    if (f32.length > 0) this.device.queue.writeBuffer(buffer, 0, f32);
    return this.wrap(buffer, f32.length);
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

  /** Runs a gpu.js kernel and returns its result as a flat device array (Array(n) results reinterpreted). */
  private async run(src: KernelSource, output: number[], args: unknown[]): Promise<DeviceArray> {
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

  private live(a: DeviceArray): BufferResult {
    if (a.freed) throw new Error('GpuDevice: a freed DeviceArray was passed to a kernel');
    return a.handle;
  }

  private static need(what: string, a: DeviceArray, length: number): void {
    if (a.length < length)
      throw new RangeError(`GpuDevice: ${what} has ${a.length} elements, needs ${length}`);
  }

  /** Elementwise unary op over the first `length` elements. */
  async unary(op: UnaryOp, x: DeviceArray, param = 0, length = x.length): Promise<DeviceArray> {
    GpuDevice.need('x', x, length);
    return this.run(unarySource(op), [length], [x, param]);
  }

  /**
   * Elementwise binary op with broadcasting: `shape` is the output shape (rank ≤ 3 after collapsing,
   * up to 3 here), strides per output dim for each input, 0 where it broadcasts. Without shape/strides
   * both inputs are flat arrays of the same length.
   */
  async binary(
    op: BinaryOp,
    a: DeviceArray,
    b: DeviceArray,
    shape?: readonly number[],
    aStrides?: readonly number[],
    bStrides?: readonly number[],
  ): Promise<DeviceArray> {
    const s = shape ?? [a.length];
    const [d, as, bs] = to3d(s, aStrides ?? contiguous(s), bStrides ?? contiguous(s));
    return this.run(binarySource(op), outputOf(d), [a, b, ...as, ...bs]);
  }

  /** Adds a row vector (length cols) to every row of x [rows, cols]. */
  async addRowVector(x: DeviceArray, v: DeviceArray, rows: number, cols: number): Promise<DeviceArray> {
    return this.binary('add', x, v, [rows, cols], [cols, 1], [0, 1]);
  }

  /** cond ? a : b elementwise (cond nonzero = true), broadcasting as `binary`. */
  async where(
    cond: DeviceArray,
    a: DeviceArray,
    b: DeviceArray,
    shape?: readonly number[],
    strides?: { cond?: readonly number[]; a?: readonly number[]; b?: readonly number[] },
  ): Promise<DeviceArray> {
    const s = shape ?? [a.length];
    const c = contiguous(s);
    const [d, cs, as, bs] = to3d(s, strides?.cond ?? c, strides?.a ?? c, strides?.b ?? c);
    return this.run(whereSource(), outputOf(d), [cond, a, b, ...cs, ...as, ...bs]);
  }

  /** Sum or max of each row of x [rows, cols]: [rows]. */
  async reduceRows(op: 'sum' | 'max', x: DeviceArray, rows: number, cols: number): Promise<DeviceArray> {
    checkSize('cols', cols, 1);
    GpuDevice.need('x', x, rows * cols);
    return this.run(reduceRowsSource(op), [rows], [x, cols]);
  }

  /** Sum over the rows of x [rows, cols]: [cols]. */
  async sumCols(x: DeviceArray, rows: number, cols: number): Promise<DeviceArray> {
    checkSize('rows', rows, 1);
    GpuDevice.need('x', x, rows * cols);
    return this.run(sumColsSource(), [cols], [x, rows, cols]);
  }

  /** log-sum-exp of each row of logits [rows, classes]. */
  async logSumExpRows(logits: DeviceArray, rows: number, classes: number): Promise<DeviceArray> {
    checkSize('classes', classes, 1);
    GpuDevice.need('logits', logits, rows * classes);
    return this.run(logSumExpRowsSource(), [rows], [logits, classes]);
  }

  /** scale·(softmax(logits) − onehot(labels)) [rows, classes], given the rows' log-sum-exp. */
  async softmaxXentGrad(
    logits: DeviceArray,
    lse: DeviceArray,
    labels: DeviceArray,
    rows: number,
    classes: number,
    scale: number,
  ): Promise<DeviceArray> {
    GpuDevice.need('logits', logits, rows * classes);
    GpuDevice.need('lse', lse, rows);
    GpuDevice.need('labels', labels, rows);
    return this.run(softmaxXentGradSource(), [classes, rows], [logits, lse, labels, classes, scale]);
  }

  /** One class per row drawn from softmax(logits) with the given uniforms (labels as floats). */
  async sampleLabels(
    logits: DeviceArray,
    uniforms: DeviceArray,
    rows: number,
    classes: number,
  ): Promise<DeviceArray> {
    checkSize('classes', classes, 1);
    GpuDevice.need('logits', logits, rows * classes);
    GpuDevice.need('uniforms', uniforms, rows);
    return this.run(sampleLabelsSource(), [rows], [logits, uniforms, classes]);
  }

  // ---- Sophia-G ----

  /** The interleaved device state [θ0, m0, θ1, m1, …] of the fused Sophia-G step. */
  async sophiaState(
    theta: DeviceArray | ArrayLike<number>,
    m?: DeviceArray | ArrayLike<number>,
  ): Promise<DeviceArray> {
    const th = theta instanceof DeviceArray ? theta : this.upload(theta);
    const d = th.length;
    const mm = m === undefined ? this.fill(d, 0) : m instanceof DeviceArray ? m : this.upload(m);
    GpuDevice.need('m', mm, d);
    try {
      return await this.run(interleaveSource(), [d], [th, mm]);
    } finally {
      if (!(theta instanceof DeviceArray)) th.free();
      if (!(m instanceof DeviceArray)) mm.free();
    }
  }

  /**
   * One fused Sophia-G step on an interleaved state (length 2d): m ← β1·m + (1−β1)·g, then
   * θ ← θ·(1 − lr·wd) − lr·sign(m)·min(|m|/(ρ·bs·h + 1e-15), 1). Returns the new state; h is the
   * curvature EMA (see `ema`).
   */
  async sophiaGStep(
    state: DeviceArray,
    grad: DeviceArray,
    h: DeviceArray,
    o: SophiaGStepOptions,
  ): Promise<DeviceArray> {
    const d = state.length / 2;
    if (!Number.isInteger(d))
      throw new RangeError('GpuDevice.sophiaGStep: state length must be even (interleaved θ, m)');
    GpuDevice.need('grad', grad, d);
    GpuDevice.need('h', h, d);
    return this.run(sophiaGSource(), [d], [state, grad, h, o.lr, o.weightDecay, o.b1, o.rho * o.batchSize]);
  }

  /** θ and m out of an interleaved state. */
  async splitState(state: DeviceArray): Promise<{ theta: Float32Array; m: Float32Array }> {
    const s = await this.download(state);
    const d = s.length / 2;
    const theta = new Float32Array(d);
    const m = new Float32Array(d);
    for (let i = 0; i < d; i++) {
      theta[i] = s[2 * i];
      m[i] = s[2 * i + 1];
    }
    return { theta, m };
  }

  /** Every `stride`-th element of x from `offset`, `length` of them (on the device). */
  async strided(x: DeviceArray, offset: number, stride: number, length: number): Promise<DeviceArray> {
    GpuDevice.need('x', x, offset + (length - 1) * stride + 1);
    return this.run(stridedSource(), [length], [x, offset, stride]);
  }

  /** h ← β·h + (1−β)·x (a new array). */
  async ema(h: DeviceArray, x: DeviceArray, beta: number): Promise<DeviceArray> {
    GpuDevice.need('x', x, h.length);
    return this.run(emaSource(), [h.length], [h, x, beta]);
  }

  // ---- matmul ----

  /** C = op(A)·op(B), [m, n] (or [batch, m, n]) row-major. */
  async matmul(a: DeviceArray, b: DeviceArray, o: DeviceMatmulOptions): Promise<DeviceArray> {
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
    GpuDevice.need('A', a, aOff + (batch - 1) * aStride + m * k);
    GpuDevice.need('B', b, bOff + (batch - 1) * bStride + k * n);
    let impl = o.impl ?? this.defaultMatmul;
    if (impl === 'wgsl') impl = this.pickWgsl(m, n);
    if (impl === 'gpujs' || impl === 'gpujs-tiled') {
      if (batch !== 1 || o.out)
        throw new Error(`GpuDevice.matmul: impl ${impl} supports neither batch nor out`);
      const tiled = impl === 'gpujs-tiled' && n % 4 === 0;
      const src = tiled ? matmulTiledSource(transA, transB) : matmulSource(transA, transB);
      return this.run(src, [tiled ? n / 4 : n, m], [a, b, m, n, k, aOff, bOff]);
    }
    const config =
      impl === 'wgsl-128' ? WGSL_MATMUL_128 : impl === 'wgsl-64' ? WGSL_MATMUL_64 : WGSL_MATMUL_SMALL;
    return this.wgslMatmul(config, a, b, {
      m,
      n,
      k,
      transA,
      transB,
      aOff,
      bOff,
      batch,
      aStride,
      bStride,
      out: o.out,
      outOffset: o.outOffset ?? 0,
    });
  }

  /** The WGSL tile that fits this device (and is not wasteful for small products). */
  private pickWgsl(m: number, n: number): MatmulImpl {
    const l = this.device.limits;
    const fits = (c: WgslMatmulConfig) =>
      threadsOf(c) <= l.maxComputeInvocationsPerWorkgroup &&
      workgroupBytesOf(c) <= l.maxComputeWorkgroupStorageSize;
    // 128×128 blocks only once there are ≥ 256 of them (enough to fill a large GPU's SMs)
    if (m * n >= 2048 * 2048 && fits(WGSL_MATMUL_128)) return 'wgsl-128';
    if (m >= 64 && n >= 64 && fits(WGSL_MATMUL_64)) return 'wgsl-64';
    return 'wgsl-small';
  }

  private wgslPipeline(
    transA: boolean,
    transB: boolean,
    c: WgslMatmulConfig,
  ): { pipeline: WgpuComputePipeline; uniform: WgpuBuffer } {
    const key = `${+transA}${+transB}:${c.BM}x${c.BN}x${c.BK}:${c.TM}x${c.TN}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const l = this.device.limits;
      if (
        threadsOf(c) > l.maxComputeInvocationsPerWorkgroup ||
        workgroupBytesOf(c) > l.maxComputeWorkgroupStorageSize
      ) {
        throw new Error(
          `GpuDevice: WGSL matmul tile ${key} needs ${threadsOf(c)} invocations / ${workgroupBytesOf(c)} B; device allows ${l.maxComputeInvocationsPerWorkgroup} / ${l.maxComputeWorkgroupStorageSize}`,
        );
      }
      const module = this.device.createShaderModule({ code: wgslMatmulSource(transA, transB, c) });
      const pipeline = this.device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      const uniform = this.device.createBuffer({
        size: MATMUL_UNIFORM_BYTES,
        usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      });
      p = { pipeline, uniform };
      this.pipelines.set(key, p);
    }
    return p;
  }

  private wgslMatmul(
    c: WgslMatmulConfig,
    a: DeviceArray,
    b: DeviceArray,
    o: {
      m: number;
      n: number;
      k: number;
      transA: boolean;
      transB: boolean;
      aOff: number;
      bOff: number;
      batch: number;
      aStride: number;
      bStride: number;
      out?: DeviceArray;
      outOffset: number;
    },
  ): DeviceArray {
    this.check();
    const { m, n, batch } = o;
    const cStride = m * n;
    const outLen = o.outOffset + batch * cStride;
    let out = o.out;
    if (out) GpuDevice.need('out', out, outLen);
    else out = this.wrap(this.createStorage(outLen), outLen);
    const gx = Math.ceil(n / c.BN);
    const gy = Math.ceil(m / c.BM);
    const maxG = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (gx > maxG || gy > maxG || batch > maxG)
      throw new RangeError(`GpuDevice.matmul: ${gx}×${gy}×${batch} workgroups exceed ${maxG} per dimension`);
    const { pipeline, uniform } = this.wgslPipeline(o.transA, o.transB, c);
    const u = new Uint32Array([
      m,
      n,
      o.k,
      batch,
      o.aOff,
      o.bOff,
      o.outOffset,
      o.aStride,
      o.bStride,
      cStride,
      0,
      0,
    ]);
    this.device.queue.writeBuffer(uniform, 0, u.buffer);
    const group = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: uniform } },
        { binding: 1, resource: { buffer: this.live(a).buffer } },
        { binding: 2, resource: { buffer: this.live(b).buffer } },
        { binding: 3, resource: { buffer: out.buffer } },
      ],
    });
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(gx, gy, batch);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    return out;
  }

  // ---- MLP Gauss-Newton-Bartlett probe ----

  /**
   * ĝ⊙ĝ for a tanh MLP, device-resident from input to estimate: forward (fused dense + tanh
   * kernels), log-sum-exp, labels sampled from the model's softmax with host-given uniforms (or given
   * labels), the mean cross-entropy's gradient backwards through every layer, squared in the kernels
   * that form it. Only the diagonal (and, on request, the labels) is read back.
   */
  async mlpGnbProbe(o: MlpGnbProbeOptions): Promise<MlpGnbProbeResult> {
    const { sizes, params, inputs, rows } = o;
    if (sizes.length < 2) throw new RangeError('mlpGnbProbe: sizes needs at least two widths');
    checkSize('rows', rows, 1);
    const layers = sizes.length - 1;
    const offsets: { w: number; b: number; inF: number; outF: number }[] = [];
    let off = 0;
    for (let l = 0; l < layers; l++) {
      const inF = sizes[l];
      const outF = sizes[l + 1];
      offsets.push({ w: off, b: off + inF * outF, inF, outF });
      off += inF * outF + outF;
    }
    GpuDevice.need('params', params, off);
    GpuDevice.need('inputs', inputs, rows * sizes[0]);
    if (!o.labels && !o.uniforms) throw new Error('mlpGnbProbe: give labels or uniforms');
    const temps: DeviceArray[] = [];
    const keep = (x: DeviceArray) => (temps.push(x), x);
    try {
      // forward: acts[l] is the input of layer l
      const acts: DeviceArray[] = [inputs];
      for (let l = 0; l < layers; l++) {
        const { w, b, inF, outF } = offsets[l];
        const act = l + 1 < layers ? 'tanh' : 'none';
        acts.push(keep(await this.run(linearSource(act), [outF, rows], [acts[l], params, inF, w, b])));
      }
      const classes = sizes[layers];
      const logits = acts[layers];
      const lse = keep(await this.logSumExpRows(logits, rows, classes));
      const labels = o.labels ?? keep(await this.sampleLabels(logits, o.uniforms!, rows, classes));
      let dz = keep(await this.softmaxXentGrad(logits, lse, labels, rows, classes, 1 / rows));
      const pieces: { offset: number; data: DeviceArray }[] = [];
      for (let l = layers - 1; l >= 0; l--) {
        const { w, b, inF, outF } = offsets[l];
        pieces.push({
          offset: w,
          data: keep(await this.run(weightGradSqSource(), [inF, outF], [dz, acts[l], rows, inF, outF])),
        });
        pieces.push({ offset: b, data: keep(await this.run(biasGradSqSource(), [outF], [dz, rows, outF])) });
        if (l > 0)
          dz = keep(await this.run(backTanhSource(), [inF, rows], [dz, params, acts[l], inF, outF, w]));
      }
      const diag = new Float32Array(off);
      const reads = await Promise.all(pieces.map((p) => this.download(p.data)));
      pieces.forEach((p, i) => diag.set(reads[i], p.offset));
      const result: MlpGnbProbeResult = { diag };
      if (o.returnLabels) result.labels = Int32Array.from(await this.download(labels, rows));
      return result;
    } finally {
      for (const t of temps) t.free();
    }
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

const poisoned = new WeakSet<object>();

/** Makes the device's createBuffer fill new storage buffers with NaN (see GpuDeviceOptions). */
function poisonNewBuffers(device: WgpuDevice): void {
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

/** gpu.js output for collapsed dims [d0, d1, d2]: 1-D or 2-D when the leading dims are 1 (denser workgroups). */
function outputOf(d: readonly number[]): number[] {
  if (d[0] === 1 && d[1] === 1) return [d[2]];
  if (d[0] === 1) return [d[2], d[1]];
  return [d[2], d[1], d[0]];
}

/** Row-major strides of a shape. */
export function contiguous(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/**
 * Collapses an output shape and per-input strides to exactly three dims: size-1 dims are dropped,
 * adjacent dims merge where every input is contiguous across them, then leading 1s pad to rank 3.
 * Throws when more than three dims remain.
 */
export function to3d(shape: readonly number[], ...strides: (readonly number[])[]): [number[], ...number[][]] {
  for (const s of strides)
    if (s.length !== shape.length) throw new RangeError('to3d: strides and shape differ in rank');
  let dims: number[] = [];
  let st: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    dims.push(shape[d]);
    st.forEach((x, i) => x.push(strides[i][d]));
  }
  // merge from the inside out
  for (let d = dims.length - 2; d >= 0; d--) {
    if (st.every((x) => x[d] === x[d + 1] * dims[d + 1])) {
      dims[d] *= dims[d + 1];
      st.forEach((x) => x[d] = x[d + 1]); // prettier-ignore
      dims.splice(d + 1, 1);
      st.forEach((x) => x.splice(d + 1, 1));
    }
  }
  if (dims.length > 3)
    throw new RangeError(`broadcast over ${dims.length} non-mergeable dims; at most 3 are supported`);
  while (dims.length < 3) {
    dims = [1, ...dims];
    st = st.map((x) => [0, ...x]);
  }
  return [dims, ...st];
}
