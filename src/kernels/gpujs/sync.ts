/**
 * Synchronous gpu.js forms of registry kernels, for gpu.js's `webasm` (WebAssembly, SIMD where the
 * engine has it) and `cpu` modes — the modes whose kernels return results synchronously, as the
 * registry's signatures require. (gpu.js's WebGPU kernels return Promises; that path is the async
 * device API in src/gpu/device.) matmul (with affine: the matmul, then the bias pass), unary, binary and
 * where are here; sum and max are in
 * reduce.ts; the softmax family, layerNorm, layerNormVjp, geluVjp and geluExp in rows.ts.
 *
 * gpu.js computes in float32: float64 operands, broadcasts over more than three non-mergeable dims,
 * and the other shapes and outputs the gpu.js forms cannot express (listed in each file) go to the
 * CPU reference instead, so the registered kernels are correct for every input. Registration is
 * explicit (`registerGpuJsKernels`) and never makes these the preferred backend: the registry's own
 * WebAssembly SIMD matmul is faster on CPUs, and float32 results do not meet the bit-for-bit
 * clauses some contracts set (logSoftmaxVjp's, geluExp's saved exponentials).
 */
import '../cpu/register.js'; // the CPU references (registered before any other backend)
import { affineFromMatmul } from '../cpu/matmul.js';
import { kernelFor, registerKernel } from '../registry.js';
import type { BinaryKernel, BinaryOp, MatmulKernel, UnaryKernel, UnaryOp, WhereKernel } from '../registry.js';
import type { FloatArray } from '../arrays.js';
import { to3d } from './shape.js';
import { loadGpuJs, type GpuJsInstance, type GpuJsKernel } from './load.js';
import {
  LOOP_MAX_ITERATIONS,
  binarySource,
  matmulSource,
  unarySource,
  whereSource,
  type KernelSource,
} from './sources.js';
import { gpuJsReduce } from './reduce.js';
import { gpuJsRowKernels } from './rows.js';

export type SyncGpuJsMode = 'webasm' | 'cpu';

/** Copies a gpu.js result (Float32Array, or nested arrays of rows) into out, row-major. */
export function flattenInto(result: unknown, out: FloatArray, offset = 0): number {
  if (ArrayBuffer.isView(result)) {
    const r = result as Float32Array;
    out.set(r, offset);
    return offset + r.length;
  }
  if (Array.isArray(result)) {
    let o = offset;
    for (const row of result) o = flattenInto(row, out, o);
    return o;
  }
  if (typeof result === 'number') {
    out[offset] = result;
    return offset + 1;
  }
  throw new TypeError(`gpu.js returned ${Object.prototype.toString.call(result)}, expected arrays`);
}

/** gpu.js kernels in one synchronous mode, cached by source, output size and argument sizes. */
export class SyncGpuJs {
  private readonly gpu: GpuJsInstance;
  private readonly kernels = new Map<string, GpuJsKernel>();

  constructor(readonly mode: SyncGpuJsMode) {
    this.gpu = new (loadGpuJs().GPU)({ mode });
  }

  /**
   * Runs a kernel. Kernels are cached per size of the array arguments as well as of the output: a
   * webasm kernel is laid out for the argument sizes it first ran with and throws when one changes
   * (a matmul with the same [m, n] and another k; a row statistic over [rows, cols] for every cols).
   */
  run(src: KernelSource, output: number[], args: unknown[]): unknown {
    const sizes = args.map((a) => (ArrayBuffer.isView(a) ? (a as Float32Array).length : '-')).join(',');
    const key = `${src.key}|${output.join('x')}|${sizes}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = this.gpu.createKernel(src.source, {
        output,
        argumentTypes: src.argumentTypes,
        ...(src.returnType ? { returnType: src.returnType } : {}),
        loopMaxIterations: LOOP_MAX_ITERATIONS,
        precision: 'single',
      });
      this.kernels.set(key, k);
    }
    const r = k(...args);
    if (r instanceof Promise)
      throw new Error(`gpu.js ${this.mode} kernel returned a Promise; it is not synchronous here`);
    return r;
  }

  /** Runs a kernel and writes its result into out, row-major. */
  runInto(src: KernelSource, output: number[], args: unknown[], out: FloatArray): void {
    flattenInto(this.run(src, output, args), out);
  }

  matmul: MatmulKernel = (a, b, out, spec) => {
    const { batch, m, n, k, transA, transB, aOffsets, bOffsets } = spec;
    if (batch * m * n === 0) return;
    if (
      !(a instanceof Float32Array) ||
      !(b instanceof Float32Array) ||
      !(out instanceof Float32Array) ||
      k === 0
    ) {
      kernelFor('matmul', 'cpu')!(a, b, out, spec);
      return;
    }
    const src = matmulSource(transA, transB);
    for (let t = 0; t < batch; t++) {
      flattenInto(this.run(src, [n, m], [a, b, m, n, k, aOffsets[t], bOffsets[t]]), out, t * m * n);
    }
  };

  unary(op: UnaryOp): UnaryKernel {
    return (x, out, param) => {
      if (out.length === 0) return;
      if (!(x instanceof Float32Array) || !(out instanceof Float32Array)) {
        kernelFor('unary', 'cpu')!(op)(x, out, param);
        return;
      }
      flattenInto(this.run(unarySource(op), [out.length], [x, param ?? 0]), out);
    };
  }

  binary(op: BinaryOp): BinaryKernel {
    return (a, as, b, bs, out, shape) => {
      if (out.length === 0) return;
      let dims: [number[], ...number[][]] | null = null;
      if (a instanceof Float32Array && b instanceof Float32Array && out instanceof Float32Array) {
        try {
          dims = to3d(shape, as, bs);
        } catch {
          dims = null;
        }
      }
      if (!dims) {
        kernelFor('binary', 'cpu')!(op)(a, as, b, bs, out, shape);
        return;
      }
      const [d, sa, sb] = dims;
      flattenInto(this.run(binarySource(op), outputOf(d), [a, b, ...sa, ...sb]), out);
    };
  }

  where: WhereKernel = (cond, cs, a, as, b, bs, out, shape) => {
    if (out.length === 0) return;
    let dims: [number[], ...number[][]] | null = null;
    if (
      cond instanceof Float32Array &&
      a instanceof Float32Array &&
      b instanceof Float32Array &&
      out instanceof Float32Array
    ) {
      try {
        dims = to3d(shape, cs, as, bs);
      } catch {
        dims = null;
      }
    }
    if (!dims) {
      kernelFor('where', 'cpu')!(cond, cs, a, as, b, bs, out, shape);
      return;
    }
    const [d, sc, sa, sb] = dims;
    flattenInto(this.run(whereSource(), outputOf(d), [cond, a, b, ...sc, ...sa, ...sb]), out);
  };

  destroy(): void {
    for (const k of this.kernels.values()) k.destroy();
    this.kernels.clear();
    this.gpu.destroy();
  }
}

function outputOf(d: readonly number[]): number[] {
  if (d[0] === 1 && d[1] === 1) return [d[2]];
  if (d[0] === 1) return [d[2], d[1]];
  return [d[2], d[1], d[0]];
}

/** Checks that a gpu.js mode runs a kernel synchronously and correctly here; returns why not, or null. */
export function syncModeProblem(mode: SyncGpuJsMode): string | null {
  let g: SyncGpuJs | null = null;
  try {
    g = new SyncGpuJs(mode);
    const out = new Float32Array(4);
    g.matmul(Float32Array.from([1, 2, 3, 4]), Float32Array.from([5, 6, 7, 8]), out, {
      batch: 1,
      m: 2,
      n: 2,
      k: 2,
      transA: false,
      transB: false,
      aOffsets: Int32Array.of(0),
      bOffsets: Int32Array.of(0),
    });
    const want = [19, 22, 43, 50];
    if (want.some((w, i) => out[i] !== w))
      return `gpu.js ${mode} matmul self-check gave [${Array.from(out).join(', ')}], expected [19, 22, 43, 50]`;
    return null;
  } catch (e) {
    return `gpu.js ${mode}: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    g?.destroy();
  }
}

const registered = new Map<SyncGpuJsMode, SyncGpuJs>();

/**
 * Registers gpu.js forms of matmul, unary, binary, where, sum, max, softmax, causalSoftmax,
 * softmaxVjp, logSoftmaxVjp, layerNorm, layerNormVjp, geluVjp and geluExp (the last always the CPU
 * reference, see rows.ts) as registry backend `gpujs-<mode>` (not preferred: select them with
 * useKernelBackend). Returns the backend name.
 */
export function registerGpuJsKernels(mode: SyncGpuJsMode = 'webasm'): string {
  const name = `gpujs-${mode}`;
  if (registered.has(mode)) return name;
  const g = new SyncGpuJs(mode);
  const unary = new Map<UnaryOp, UnaryKernel>();
  const binary = new Map<BinaryOp, BinaryKernel>();
  registerKernel('matmul', name, g.matmul);
  registerKernel('affine', name, affineFromMatmul(g.matmul));
  registerKernel('unary', name, (op) => {
    let k = unary.get(op);
    if (!k) unary.set(op, (k = g.unary(op)));
    return k;
  });
  registerKernel('binary', name, (op) => {
    let k = binary.get(op);
    if (!k) binary.set(op, (k = g.binary(op)));
    return k;
  });
  registerKernel('where', name, g.where);
  registerKernel('sum', name, gpuJsReduce(g, 'sum'));
  registerKernel('max', name, gpuJsReduce(g, 'max'));
  const rows = gpuJsRowKernels(g);
  registerKernel('softmax', name, rows.softmax);
  registerKernel('causalSoftmax', name, rows.causalSoftmax);
  registerKernel('softmaxVjp', name, rows.softmaxVjp);
  registerKernel('logSoftmaxVjp', name, rows.logSoftmaxVjp);
  registerKernel('layerNorm', name, rows.layerNorm);
  registerKernel('layerNormVjp', name, rows.layerNormVjp);
  registerKernel('geluVjp', name, rows.geluVjp);
  registerKernel('geluExp', name, rows.geluExp);
  registered.set(mode, g);
  return name;
}
