/**
 * The kernel registry. Every kernel has a name and a CPU reference over TypedArrays; other backends
 * (gpu.js forms, WebAssembly) register implementations under the same name and signature, and ops
 * dispatch through `kernel(name)` so a faster implementation drops in without touching the ops.
 * Kernel tests run every registered backend of a kernel against its CPU reference.
 */
import type { FloatArray } from './arrays.js';

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'greaterEqual' | 'equal';
export type UnaryOp =
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'tanh'
  | 'sigmoid'
  | 'relu'
  | 'step'
  | 'pow'
  | 'abs'
  | 'sign'
  | 'gelu'
  | 'geluGrad';

/** Elementwise binary op with broadcasting: strides are per output dim, 0 where an input broadcasts. */
export type BinaryKernel = (
  a: FloatArray,
  aStrides: readonly number[],
  b: FloatArray,
  bStrides: readonly number[],
  out: FloatArray,
  outShape: readonly number[],
) => void;

/** Elementwise unary op; `param` is the exponent for `pow` and ignored otherwise. */
export type UnaryKernel = (x: FloatArray, out: FloatArray, param: number) => void;

/** cond ? a : b with broadcasting (cond is nonzero = true). */
export type WhereKernel = (
  cond: FloatArray,
  condStrides: readonly number[],
  a: FloatArray,
  aStrides: readonly number[],
  b: FloatArray,
  bStrides: readonly number[],
  out: FloatArray,
  outShape: readonly number[],
) => void;

/** Reduction of x (shape xShape) into out, where outStrides has 0 on reduced axes. */
export type ReduceKernel = (
  x: FloatArray,
  xShape: readonly number[],
  out: FloatArray,
  outStrides: readonly number[],
) => void;

export interface MatmulSpec {
  /** Number of matrices in the (broadcast) batch. */
  readonly batch: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A is stored [k, m] per batch item (else [m, k]); B is stored [n, k] (else [k, n]). */
  readonly transA: boolean;
  readonly transB: boolean;
  /** Element offset of each batch item's matrix in A and B (broadcast batch dims repeat offsets). */
  readonly aOffsets: Int32Array;
  readonly bOffsets: Int32Array;
}
export type MatmulKernel = (a: FloatArray, b: FloatArray, out: FloatArray, spec: MatmulSpec) => void;

/**
 * A Linear layer's forward: out = x·wᵀ + bias with x [rows, k], w [n, k] (as PyTorch stores it) and
 * bias [n]. Each product element is rounded to out's type before its bias is added, so the result is
 * the matmul kernel's followed by a row-bias pass; a backend may add the bias as it stores the product.
 */
export type AffineKernel = (
  x: FloatArray,
  w: FloatArray,
  bias: FloatArray,
  out: FloatArray,
  rows: number,
  k: number,
  n: number,
) => void;

/** Copy with permuted axes: out[perm-order index] = x[index]. */
export type PermuteKernel = (
  x: FloatArray,
  xShape: readonly number[],
  perm: readonly number[],
  out: FloatArray,
) => void;

/** Rows of `table` ([rows, width]) picked by `indices` into out ([indices.length, width]). */
export type GatherKernel = (table: FloatArray, width: number, indices: Int32Array, out: FloatArray) => void;
/** Adjoint of gather: out[indices[i]] += src[i] (out is zeroed by the caller). */
export type ScatterAddKernel = (src: FloatArray, width: number, indices: Int32Array, out: FloatArray) => void;

/** Copies a box [starts, starts + box) of src into dst at dstStarts (both row-major, given shapes). */
export type CopyBoxKernel = (
  src: FloatArray,
  srcShape: readonly number[],
  srcStarts: readonly number[],
  dst: FloatArray,
  dstShape: readonly number[],
  dstStarts: readonly number[],
  box: readonly number[],
) => void;

/** Row-wise (log-)softmax of x viewed as [rows, cols], numerically stable (max subtracted). */
export type SoftmaxKernel = (
  x: FloatArray,
  rows: number,
  cols: number,
  out: FloatArray,
  log: boolean,
) => void;

/**
 * Causal softmax of x viewed as [rows, cols], rows in blocks of `cols` (one [T, T] attention score
 * matrix each): row i of a block is a softmax over its columns 0..i and 0 beyond.
 */
export type CausalSoftmaxKernel = (x: FloatArray, rows: number, cols: number, out: FloatArray) => void;

/** The softmax VJP over rows of [rows, cols]: out = y ⊙ (g − Σ_row g⊙y), for y a softmax output. */
export type SoftmaxVjpKernel = (
  y: FloatArray,
  g: FloatArray,
  rows: number,
  cols: number,
  out: FloatArray,
) => void;

/**
 * The log-softmax VJP over rows of [rows, cols]: out = g − exp(y)·Σ_row g, for y a log-softmax
 * output. It must equal the elementwise ops it replaces bit for bit: Σ_row g as the 'sum' kernel's
 * CPU reference sums a row (four float64 accumulators, see cpu/reduce.ts), rounded to the dtype; then
 * exp(y), the product and the difference, each rounded to the dtype.
 */
export type LogSoftmaxVjpKernel = (
  y: FloatArray,
  g: FloatArray,
  rows: number,
  cols: number,
  out: FloatArray,
) => void;

/**
 * The GELU backward: out = g ⊙ GELU′(x) (tanh form), elementwise over equal-length arrays. `e`, when
 * given, holds the exponentials `geluExp` saved for this x; a backend may use them instead of
 * recomputing, and must produce the same result either way.
 */
export type GeluVjpKernel = (x: FloatArray, g: FloatArray, out: FloatArray, e?: Float64Array) => void;

/**
 * The tanh backward from the forward's output: out = g ⊙ (1 − y ⊙ y), elementwise over equal-length
 * arrays, each of the three operations rounded to the arrays' type — the bits of tanh's VJP written in
 * primitive ops (mul, sub, mul), in one pass instead of three.
 */
export type TanhVjpKernel = (y: FloatArray, g: FloatArray, out: FloatArray) => void;

/**
 * GELU (tanh form) of x into out, saving e = exp(−2u), u = √(2/π)(x + 0.044715x³), per element in
 * float64 for a later `geluVjp` on the same x.
 */
export type GeluExpKernel = (x: FloatArray, out: FloatArray, e: Float64Array) => void;

/**
 * Row-wise normalisation of x viewed as [rows, cols]: xhat = (x − mean)·rstd with
 * rstd = 1/√(var + eps) (population variance), writing xhat and each row's rstd.
 */
export type NormalizeKernel = (
  x: FloatArray,
  rows: number,
  cols: number,
  eps: number,
  xhat: FloatArray,
  rstd: FloatArray,
) => void;

/**
 * LayerNorm forward over rows of [rows, cols]: y = x̂·gain + bias, x̂ = (x − mean)·rstd with
 * rstd = 1/√(var + eps) (population variance); writes y, x̂ and each row's rstd.
 */
export type LayerNormKernel = (
  x: FloatArray,
  rows: number,
  cols: number,
  eps: number,
  gain: FloatArray,
  bias: FloatArray,
  y: FloatArray,
  xhat: FloatArray,
  rstd: FloatArray,
) => void;

/**
 * LayerNorm backward from the forward's x̂ and rstd: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ⊙x̂)) with
 * ĝ = g⊙gain, dgain = Σ_rows g⊙x̂ and dbias = Σ_rows g (both overwritten, length cols).
 */
export type LayerNormVjpKernel = (
  g: FloatArray,
  xhat: FloatArray,
  rstd: FloatArray,
  gain: FloatArray,
  rows: number,
  cols: number,
  dx: FloatArray,
  dgain: FloatArray,
  dbias: FloatArray,
) => void;

/**
 * The optimizers' per-element passes over flat float32 vectors of one length (the caller checks the
 * lengths). Each computes in float64 and rounds to float32 on store, exactly as its CPU reference
 * (cpu/passes.ts); outputs may be the same view as an input.
 */
/** Adam's constants for one step: β's, bias corrections 1 − β^t, eps and eps_root. */
export interface AdamConstants {
  readonly b1: number;
  readonly b2: number;
  readonly bc1: number;
  readonly bc2: number;
  readonly eps: number;
  readonly epsRoot: number;
}

/** Where result arrays come from: `n` elements the kernel overwrites completely. */
export type AllocateArray = (n: number) => Float32Array;

/** New moments and update from a gradient and the previous moments (all of one length). */
export type AdamMomentsKernel = (
  g: Float32Array,
  mu0: Float32Array,
  nu0: Float32Array,
  c: AdamConstants,
  allocate?: AllocateArray,
) => { mu: Float32Array; nu: Float32Array; out: Float32Array };

/** Writes the moments and the update for every element of `g` (the reference the kernel must match). */
export type AdamMomentsLoop = (
  g: Float32Array,
  mu0: Float32Array,
  nu0: Float32Array,
  mu: Float32Array,
  nu: Float32Array,
  out: Float32Array,
  c: AdamConstants,
) => void;

export interface VectorPassSignatures {
  /** dst[i] = f32(dst[i] + src[i]). */
  addInto: (dst: Float32Array, src: Float32Array) => void;
  /** out[i] = f32(f · x[i]). */
  scaleInto: (out: Float32Array, x: Float32Array, f: number) => void;
  /** out[i] = f32(g[i] + wd · p[i]), unfused. */
  addScaledInto: (out: Float32Array, g: Float32Array, p: Float32Array, wd: number) => void;
  /** Σ v[i]² in float64, in the reference's fixed order of eight partial sums. */
  sumOfSquares: (v: Float32Array) => number;
  /** True when v holds no ±Infinity and no NaN. */
  allFinite: (v: Float32Array) => boolean;
  /** out[i] = f32(b·a[i] + c·x[i]), unfused. */
  emaInto: (out: Float32Array, a: Float32Array, x: Float32Array, b: number, c: number) => void;
  /** out[i] = f32(sign(m)·min(|m|/(scale·h + eps), 1)); returns how many ratios were below 1. */
  sophiaGClip: (out: Float32Array, m: Float32Array, h: Float32Array, scale: number, eps: number) => number;
  /** out[i] = f32(clamp(m/bc1/max(γ·h, eps), ±clip)); returns how many |u| were below clip. */
  sophiaHClip: (
    out: Float32Array,
    m: Float32Array,
    h: Float32Array,
    bc1: number,
    gamma: number,
    eps: number,
    clip: number,
  ) => number;
  /** Adam's new moments and update, in arrays from `allocate` (fresh by default). */
  adamMoments: AdamMomentsKernel;
}

export interface KernelSignatures extends VectorPassSignatures {
  binary: (op: BinaryOp) => BinaryKernel;
  unary: (op: UnaryOp) => UnaryKernel;
  where: WhereKernel;
  sum: ReduceKernel;
  max: ReduceKernel;
  matmul: MatmulKernel;
  affine: AffineKernel;
  permute: PermuteKernel;
  gather: GatherKernel;
  scatterAdd: ScatterAddKernel;
  copyBox: CopyBoxKernel;
  softmax: SoftmaxKernel;
  causalSoftmax: CausalSoftmaxKernel;
  softmaxVjp: SoftmaxVjpKernel;
  logSoftmaxVjp: LogSoftmaxVjpKernel;
  geluVjp: GeluVjpKernel;
  geluExp: GeluExpKernel;
  tanhVjp: TanhVjpKernel;
  /** GELU″(x) elementwise (tanh form); the unary signature, `param` unused. */
  geluSecond: UnaryKernel;
  normalize: NormalizeKernel;
  layerNorm: LayerNormKernel;
  layerNormVjp: LayerNormVjpKernel;
}
export type KernelName = keyof KernelSignatures;

const implementations = new Map<KernelName, Map<string, unknown>>();
const active = new Map<KernelName, string>();
const preferred = new Map<KernelName, string>();

/** Registers `impl` as backend `backend` of kernel `name`. The first backend of a name must be 'cpu'. */
export function registerKernel<K extends KernelName>(
  name: K,
  backend: string,
  impl: KernelSignatures[K],
): void {
  let byBackend = implementations.get(name);
  if (!byBackend) {
    if (backend !== 'cpu')
      throw new Error(`kernel ${name}: the CPU reference must be registered before backend ${backend}`);
    byBackend = new Map();
    implementations.set(name, byBackend);
  }
  byBackend.set(backend, impl);
}

/**
 * The active implementation of a kernel: the backend selected with `useKernelBackend`, else the
 * preferred one (`preferKernelBackend`, set by a backend that checked itself against the reference),
 * else the CPU reference.
 */
export function kernel<K extends KernelName>(name: K): KernelSignatures[K] {
  const byBackend = implementations.get(name);
  if (!byBackend) throw new Error(`kernel ${name} is not registered`);
  return byBackend.get(active.get(name) ?? preferred.get(name) ?? 'cpu') as KernelSignatures[K];
}

/** The name of the backend `kernel(name)` dispatches to. */
export function activeKernelBackend(name: KernelName): string {
  return active.get(name) ?? preferred.get(name) ?? 'cpu';
}

/** One backend's implementation, for tests that compare backends. */
export function kernelFor<K extends KernelName>(name: K, backend: string): KernelSignatures[K] | undefined {
  return implementations.get(name)?.get(backend) as KernelSignatures[K] | undefined;
}

/** Backends registered for a kernel, the CPU reference first. */
export function kernelBackends(name: KernelName): string[] {
  return [...(implementations.get(name)?.keys() ?? [])];
}

export function registeredKernels(): KernelName[] {
  return [...implementations.keys()];
}

/** Selects the backend used by `kernel(name)`; unknown backends are an error, not a silent fallback. */
export function useKernelBackend(name: KernelName, backend: string): void {
  if (!implementations.get(name)?.has(backend)) {
    throw new Error(`kernel ${name} has no backend ${backend} (has: ${kernelBackends(name).join(', ')})`);
  }
  active.set(name, backend);
}

/** Forgets a `useKernelBackend` selection: the preferred backend (or the CPU reference) is used again. */
export function resetKernelBackend(name: KernelName): void {
  active.delete(name);
}

/**
 * Makes `backend` the default of kernel `name` when none was selected explicitly. Backends call this
 * at registration once they are known to work on this engine (and to be faster than the reference).
 */
export function preferKernelBackend(name: KernelName, backend: string): void {
  if (!implementations.get(name)?.has(backend)) {
    throw new Error(`kernel ${name} has no backend ${backend} (has: ${kernelBackends(name).join(', ')})`);
  }
  preferred.set(name, backend);
}

/**
 * Runs `fn` with `backend` selected for every kernel that has it (the others keep theirs), then restores
 * each selection as it was, also when `fn` throws. For a thread that computes with one backend
 * throughout a task (the probe worker with gpu.js's kernels), not for code running concurrently in
 * the same thread.
 */
export function withKernelBackend<T>(backend: string, fn: () => T): T {
  const saved = new Map<KernelName, string | undefined>();
  for (const [name, byBackend] of implementations) {
    if (!byBackend.has(backend)) continue;
    saved.set(name, active.get(name));
    active.set(name, backend);
  }
  try {
    return fn();
  } finally {
    for (const [name, prev] of saved) {
      if (prev === undefined) active.delete(name);
      else active.set(name, prev);
    }
  }
}
