/**
 * A float64 transcription of the official soap.py step for 2-D tensors and vectors, written for the tests
 * independently of src/optim/soap*.ts: exp_avg kept in the eigenbasis and moved through project_back /
 * project every step as the official code does (the implementation keeps it in parameter space), full
 * eigendecomposition by the cyclic Jacobi solver (the implementation uses Householder + QL), and the
 * refresh's QR by modified Gram–Schmidt (the implementation uses Householder; SOAP's result does not
 * depend on the basis vectors' signs).
 */
import { symmetricEigen } from '../../src/diagnostics/symmetric-eigen.js';

/** Deterministic uniform(−1, 1) stream (LCG), so failures reproduce. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

export interface RefBlock {
  offset: number;
  rows: number;
  cols: number;
  left: boolean;
  right: boolean;
}

interface RefState extends RefBlock {
  expAvg: Float64Array;
  expAvgSq: Float64Array;
  L: Float64Array;
  R: Float64Array;
  QL: Float64Array | null;
  QR: Float64Array | null;
}

export interface RefOptions {
  b1: number;
  b2: number;
  shampooBeta: number;
  eps: number;
  frequency: number;
}

/** C = op(A)·op(B) for row-major matrices; A is n×k (tA: stored k×n), B is k×m (tB: stored m×k). */
export function matmul64(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  k: number,
  m: number,
  tA = false,
  tB = false,
): Float64Array {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let p = 0; p < k; p++)
        s += (tA ? a[p * n + i] : a[i * k + p]) * (tB ? b[j * k + p] : b[p * m + j]);
      c[i * m + j] = s;
    }
  return c;
}

/** torch.linalg.eigh then flip: eigenvectors as columns, descending eigenvalue. */
export function eighDescending(a: ArrayLike<number>, n: number): Float64Array {
  const { vectors } = symmetricEigen(a, n);
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) q[i * n + j] = vectors[i * n + (n - 1 - j)];
  return q;
}

/** Q of a QR by modified Gram–Schmidt, applied twice per column (full-rank input assumed). */
function gramSchmidtQ(m: Float64Array, n: number): Float64Array {
  const q = Float64Array.from(m);
  for (let j = 0; j < n; j++) {
    for (let pass = 0; pass < 2; pass++)
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i * n + p] * q[i * n + j];
        for (let i = 0; i < n; i++) q[i * n + j] -= dot * q[i * n + p];
      }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i * n + j] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) q[i * n + j] /= norm;
  }
  return q;
}

export class ReferenceSoap {
  private step = 0;
  private initialised = false;
  readonly blocks: RefState[];

  constructor(
    blocks: RefBlock[],
    private readonly o: RefOptions,
  ) {
    this.blocks = blocks.map((b) => ({
      ...b,
      expAvg: new Float64Array(b.rows * b.cols),
      expAvgSq: new Float64Array(b.rows * b.cols),
      L: new Float64Array(b.left ? b.rows * b.rows : 0),
      R: new Float64Array(b.right ? b.cols * b.cols : 0),
      QL: null,
      QR: null,
    }));
  }

  private project(b: RefState, x: Float64Array): Float64Array {
    let y = x;
    if (b.QL) y = matmul64(b.QL, y, b.rows, b.rows, b.cols, true);
    if (b.QR) y = matmul64(y, b.QR, b.rows, b.cols, b.cols);
    return y;
  }

  private projectBack(b: RefState, x: Float64Array): Float64Array {
    let y = x;
    if (b.QL) y = matmul64(b.QL, y, b.rows, b.rows, b.cols);
    if (b.QR) y = matmul64(y, b.QR, b.rows, b.cols, b.cols, false, true);
    return y;
  }

  private lerpFactors(b: RefState, g: Float64Array): void {
    const c = 1 - this.o.shampooBeta;
    if (b.left) {
      const p = matmul64(g, g, b.rows, b.cols, b.rows, false, true);
      for (let i = 0; i < p.length; i++) b.L[i] += c * (p[i] - b.L[i]);
    }
    if (b.right) {
      const p = matmul64(g, g, b.cols, b.rows, b.cols, true, false);
      for (let i = 0; i < p.length; i++) b.R[i] += c * (p[i] - b.R[i]);
    }
  }

  /** get_orthogonal_matrix_QR for one side; permutes exp_avg_sq along `dim`. */
  private refresh(b: RefState, side: 'L' | 'R'): void {
    const n = side === 'L' ? b.rows : b.cols;
    const f = side === 'L' ? b.L : b.R;
    const q = (side === 'L' ? b.QL : b.QR)!;
    const lq = matmul64(f, q, n, n, n);
    const est = Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += q[i * n + j] * lq[i * n + j];
      return s;
    });
    const idx = est.map((_, j) => j).sort((x, y) => est[y] - est[x]);
    const sorted = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sorted[i * n + j] = q[i * n + idx[j]];
    const power = matmul64(f, sorted, n, n, n);
    const newQ = gramSchmidtQ(power, n);
    const v = Float64Array.from(b.expAvgSq);
    for (let i = 0; i < b.rows; i++)
      for (let j = 0; j < b.cols; j++)
        b.expAvgSq[i * b.cols + j] = v[(side === 'L' ? idx[i] : i) * b.cols + (side === 'R' ? idx[j] : j)];
    if (side === 'L') b.QL = newQ;
    else b.QR = newQ;
  }

  private updatePreconditioner(b: RefState, g: Float64Array): void {
    if (b.QL || b.QR) b.expAvg = this.projectBack(b, b.expAvg);
    this.lerpFactors(b, g);
    if (!this.initialised) {
      if (b.left) b.QL = eighDescending(b.L, b.rows);
      if (b.right) b.QR = eighDescending(b.R, b.cols);
    } else if (this.step > 0 && this.step % this.o.frequency === 0) {
      if (b.left) this.refresh(b, 'L');
      if (b.right) this.refresh(b, 'R');
    }
    if (this.step > 0) b.expAvg = this.project(b, b.expAvg);
  }

  /** One official step: returns the direction u with θ ← θ − lr·u (before weight decay). */
  update(grad: ArrayLike<number>): Float64Array {
    const out = new Float64Array(grad.length);
    const gOf = (b: RefState) => Float64Array.from({ length: b.rows * b.cols }, (_, i) => grad[b.offset + i]);
    if (!this.initialised) {
      for (const b of this.blocks) this.updatePreconditioner(b, gOf(b));
      this.initialised = true;
      return out;
    }
    this.step += 1;
    const { b1, b2, eps } = this.o;
    const stepSize = Math.sqrt(1 - b2 ** this.step) / (1 - b1 ** this.step);
    for (const b of this.blocks) {
      const g = gOf(b);
      const gp = this.project(b, g);
      const ratio = new Float64Array(gp.length);
      for (let i = 0; i < gp.length; i++) {
        b.expAvg[i] = b1 * b.expAvg[i] + (1 - b1) * gp[i];
        b.expAvgSq[i] = b2 * b.expAvgSq[i] + (1 - b2) * gp[i] * gp[i];
        ratio[i] = b.expAvg[i] / (Math.sqrt(b.expAvgSq[i]) + eps);
      }
      const ng = this.projectBack(b, ratio);
      for (let i = 0; i < ng.length; i++) out[b.offset + i] = stepSize * ng[i];
      this.updatePreconditioner(b, g);
    }
    return out;
  }
}
