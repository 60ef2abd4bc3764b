/**
 * Matrix product over the last two axes, with NumPy batch broadcasting of the leading axes and
 * transpose flags, so VJPs never materialise a transpose: for C = op(A)·op(B) each adjoint is again
 * one matmul with flags (the table in `matmulVjp`).
 */
import { kernel } from '../../kernels/registry.js';
import { ShapeError, describeShape } from '../errors.js';
import { record } from '../graph.js';
import { broadcastShapes, sizeOf, stridesOf } from '../shape.js';
import { Tensor, arrayFor, kernelOutput } from '../tensor.js';
import { commonDType, expectTensor, output } from './common.js';
import { sumTo } from './elementwise.js';

export interface MatmulOptions {
  /** Use Aᵀ: A is stored [..., k, m]. */
  transA?: boolean;
  /** Use Bᵀ: B is stored [..., n, k] — a PyTorch Linear weight [out, in] multiplies this way. */
  transB?: boolean;
}

/**
 * Offsets already computed, by operand batch dims, broadcast batch dims and matrix size: a model calls
 * matmul with the same few shapes every step, and a batched product (128 attention heads) would
 * otherwise rebuild its table each call. Kernels only read the tables, so sharing them is safe.
 */
const offsetTables = new Map<string, Int32Array>();
const MAX_OFFSET_TABLES = 256;
/** The one offset of an unbatched operand. */
const ZERO_OFFSET = new Int32Array(1);

/** Element offsets of each broadcast batch item's matrix in an operand with batch dims `own`. */
function batchOffsets(own: readonly number[], batch: readonly number[], matrixSize: number): Int32Array {
  if (batch.length === 0) return ZERO_OFFSET;
  const key = `${own.join(',')}|${batch.join(',')}|${matrixSize}`;
  let table = offsetTables.get(key);
  if (!table) {
    table = computeBatchOffsets(own, batch, matrixSize);
    // Bounded: a program sweeping many shapes recomputes instead of growing this without limit.
    if (offsetTables.size >= MAX_OFFSET_TABLES) offsetTables.clear();
    offsetTables.set(key, table);
  }
  return table;
}

/** The offset table itself (see `batchOffsets`). */
function computeBatchOffsets(
  own: readonly number[],
  batch: readonly number[],
  matrixSize: number,
): Int32Array {
  const count = sizeOf(batch);
  const out = new Int32Array(count);
  const ownStrides = stridesOf(own);
  const lead = batch.length - own.length;
  const idx = new Array<number>(batch.length).fill(0);
  for (let t = 0; t < count; t++) {
    let off = 0;
    for (let d = 0; d < own.length; d++) if (own[d] !== 1) off += idx[lead + d] * ownStrides[d];
    out[t] = off * matrixSize;
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  expectTensor('matmul', 'a', a);
  expectTensor('matmul', 'b', b);
  commonDType('matmul', [a, b]);
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  if (a.rank < 2 || b.rank < 2) {
    throw new ShapeError(
      'matmul',
      `both operands need rank >= 2, got a ${describeShape(a.shape)} and b ${describeShape(b.shape)}`,
    );
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) {
    const fa = transA ? 'aᵀ' : 'a';
    const fb = transB ? 'bᵀ' : 'b';
    throw new ShapeError(
      'matmul',
      `inner dimensions differ: ${fa} of a ${describeShape(a.shape)} has ${k} columns, ${fb} of b ${describeShape(b.shape)} has ${kb} rows`,
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = broadcastShapes('matmul', aBatch, bBatch);
  const count = sizeOf(batch);
  // The kernel writes every element, except with an empty inner dimension (all zeros then).
  const out = k > 0 ? kernelOutput(a.dtype, count * m * n) : arrayFor(a.dtype, count * m * n);
  kernel('matmul')(a.data, b.data, out, {
    batch: count,
    m,
    n,
    k,
    transA,
    transB,
    aOffsets: batchOffsets(aBatch, batch, ar * ac),
    bOffsets: batchOffsets(bBatch, batch, br * bc),
  });
  const y = output('matmul', out, [...batch, m, n], [a, b]);
  return record(y, 'matmul', [a, b], (g, needs) => {
    const [ga, gb] = matmulVjp(g, a, b, transA, transB, needs);
    return [ga && sumTo(ga, a.shape), gb && sumTo(gb, b.shape)];
  });
}

/** Adjoints of C = op(A)·op(B), each in the stored layout of its operand. */
function matmulVjp(
  g: Tensor,
  a: Tensor,
  b: Tensor,
  tA: boolean,
  tB: boolean,
  needs: readonly boolean[],
): [Tensor | null, Tensor | null] {
  if (!tA && !tB) {
    // C = A B:   dA = G Bᵀ,  dB = Aᵀ G
    return [
      needs[0] ? matmul(g, b, { transB: true }) : null,
      needs[1] ? matmul(a, g, { transA: true }) : null,
    ];
  }
  if (!tA && tB) {
    // C = A Bᵀ:  dA = G B,   dB = Gᵀ A
    return [needs[0] ? matmul(g, b) : null, needs[1] ? matmul(g, a, { transA: true }) : null];
  }
  if (tA && !tB) {
    // C = Aᵀ B:  dA = B Gᵀ,  dB = A G
    return [needs[0] ? matmul(b, g, { transB: true }) : null, needs[1] ? matmul(a, g) : null];
  }
  // C = Aᵀ Bᵀ: dA = Bᵀ Gᵀ, dB = Gᵀ Aᵀ
  return [
    needs[0] ? matmul(b, g, { transA: true, transB: true }) : null,
    needs[1] ? matmul(g, a, { transA: true, transB: true }) : null,
  ];
}
