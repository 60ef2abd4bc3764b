/**
 * Muon's orthogonalisation: the Newton–Schulz quintic of KellerJordan/Muon `zeropower_via_newtonschulz5`,
 * in float32 (the official code runs it in bfloat16 on a GPU; float32 is both closer to the exact
 * iteration and what our kernels have).
 *
 * For G of shape [rows, cols]: X = G (Gᵀ when rows > cols, so X is wide and XXᵀ the smaller Gram
 * matrix); X ← X/(‖X‖_F + 1e-7); then `steps` times A = XXᵀ, B = b·A + (c·A)·A, X = a·X + B·X with
 * (a, b, c) = (3.4445, −4.7750, 2.0315); transposed back.
 *
 * The products go through the registered 'matmul' kernel (WebAssembly SIMD where available, the CPU
 * reference otherwise). Each iteration is three products as in muon.py, grouped as
 *   B + a·I = (c·A + b·I)·A + a·I,   X ← (B + a·I)·X,
 * which is the official b·A + (c·A)·A and a·X + B·X with the diagonal terms summed inside the products
 * instead of in separate passes over X: the same arithmetic up to float32 rounding order (error against a
 * float64 run measured equal or lower: ~3e-6 of the largest entry), and 25–30% less time per step on the
 * char-GPT's matrices, where the passes over X cost as much as a product. Results agree with PyTorch
 * float32 to rounding, not bit for bit (a BLAS sums in another order anyway).
 */
import '../kernels/index.js';
import { kernel, type MatmulSpec } from '../kernels/registry.js';

export const NS_COEFFICIENTS = [3.4445, -4.775, 2.0315] as const;

const ZERO = new Int32Array(1);
const f32 = Math.fround;

/** Scratch for one shape, reused by every call on that shape (never part of any state). */
interface Scratch {
  /** The wide orientation: m ≤ n. */
  m: number;
  n: number;
  x: Float32Array; // [m, n], X of even iterations
  gram: Float32Array; // A = XXᵀ, [m, m]
  cGram: Float32Array; // c·A + b·I
  gram2: Float32Array; // B + a·I, [m, m]
  bx: Float32Array; // [m, n], X of odd iterations
  specXXt: MatmulSpec;
  specAA: MatmulSpec;
  specBX: MatmulSpec;
}

const spec = (m: number, n: number, k: number, transB: boolean): MatmulSpec => ({
  batch: 1,
  m,
  n,
  k,
  transA: false,
  transB,
  aOffsets: ZERO,
  bOffsets: ZERO,
});

/**
 * One set of scratch arrays per shape for the whole process: `update` is synchronous and never re-entered,
 * so sharing them between optimizer instances (injectHyperparams rebuilds the transformation whenever a
 * scheduled value changes) is safe and keeps allocation out of the step.
 */
const scratchByShape = new Map<string, Scratch>();
const MAX_SHAPES = 64;

function scratchFor(m: number, n: number): Scratch {
  const key = `${m}x${n}`;
  let s = scratchByShape.get(key);
  if (!s) {
    if (scratchByShape.size >= MAX_SHAPES) scratchByShape.clear();
    s = {
      m,
      n,
      x: new Float32Array(m * n),
      gram: new Float32Array(m * m),
      cGram: new Float32Array(m * m),
      gram2: new Float32Array(m * m),
      bx: new Float32Array(m * n),
      specXXt: spec(m, m, n, true),
      specAA: spec(m, m, m, false),
      specBX: spec(m, n, m, false),
    };
    scratchByShape.set(key, s);
  }
  return s;
}

/**
 * Writes scale·NS(g) into `out` (both [rows, cols] row-major, length rows·cols; they may be the same
 * array). A non-finite input gives a non-finite output (NaN propagates through every operation), which the
 * training loops treat as a step to skip.
 */
export function newtonSchulzInto(
  g: Float32Array,
  rows: number,
  cols: number,
  steps: number,
  out: Float32Array,
  scale = 1,
): void {
  const transposed = rows > cols;
  const m = transposed ? cols : rows;
  const n = transposed ? rows : cols;
  const s = scratchFor(m, n);
  const { x, gram, cGram, gram2, bx } = s;
  // Frobenius norm, accumulated in float64 (free here, and as PyTorch's float32 norm it is rounded once).
  let sq = 0;
  for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const denom = f32(f32(Math.sqrt(sq)) + 1e-7);
  if (transposed) {
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) x[c * n + r] = g[r * cols + c] / denom;
  } else {
    for (let i = 0; i < x.length; i++) x[i] = g[i] / denom;
  }
  // As float32 scalars, the way a float32 tensor op takes a Python float (exact products, one rounding).
  const [a, b, c] = NS_COEFFICIENTS.map(f32);
  const mm = kernel('matmul');
  let cur = x;
  let next = bx;
  for (let it = 0; it < steps; it++) {
    mm(cur, cur, gram, s.specXXt); // A = X·Xᵀ
    // B = b·A + (c·A)·A as (c·A + b·I)·A, and a·X + B·X as (B + a·I)·X: one product each and no pass
    // over X (the diagonal terms join the products' sums instead of being added after them).
    for (let i = 0; i < gram.length; i++) cGram[i] = c * gram[i];
    for (let i = 0; i < m; i++) cGram[i * m + i] += b;
    mm(cGram, gram, gram2, s.specAA);
    for (let i = 0; i < m; i++) gram2[i * m + i] += a;
    mm(gram2, cur, next, s.specBX);
    [cur, next] = [next, cur];
  }
  const k = f32(scale);
  if (transposed) {
    for (let r = 0; r < rows; r++) for (let c2 = 0; c2 < cols; c2++) out[r * cols + c2] = cur[c2 * n + r] * k;
  } else {
    for (let i = 0; i < cur.length; i++) out[i] = cur[i] * k;
  }
}
