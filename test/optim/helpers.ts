/** Shared helpers for the optimizer tests: tolerant and bitwise comparisons, test problems, a driver. */
import type { Test } from 'tap';
import { applyUpdates, type GradientTransformation, type UpdateExtra } from '../../src/optim/index.js';

/** Anything with tap's `ok` (the root `t` or a subtest). */
export type Asserter = Pick<Test, 'ok'>;

/**
 * Asserts |actual − expected| ≤ tol·max(1, |expected|) per coordinate. Float32 storage between the links
 * of a chain rounds at ~6e-8 relative, so 2e-6 is far tighter than any formula mistake.
 */
export function assertClose(
  t: Asserter,
  actual: ArrayLike<number>,
  expected: readonly number[],
  message: string,
  tol = 2e-6,
): void {
  const got = Array.from(actual);
  const bad =
    got.length !== expected.length ||
    got.some((v, i) => !(Math.abs(v - expected[i]) <= tol * Math.max(1, Math.abs(expected[i]))));
  t.ok(!bad, message, { found: got, wanted: expected });
}

/** Returns the path of the first difference between two values, bit for bit (typed arrays by bytes). */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | null {
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return `${path}: typed array vs other`;
    if (a.constructor !== b.constructor) return `${path}: ${a.constructor.name} vs ${b.constructor.name}`;
    const ba = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const bb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    return ba.equals(bb) ? null : `${path}: bytes differ`;
  }
  if (typeof a === 'number' || typeof b === 'number') {
    return Object.is(a, b) ? null : `${path}: ${String(a)} vs ${String(b)}`;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: array vs other`;
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) return `${path}: keys ${ka.join()} vs ${kb.join()}`;
    for (const k of ka) {
      const d = firstDifference(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        `${path}.${k}`,
      );
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${path}: ${String(a)} vs ${String(b)}`;
}

/** Visits every typed array in a state tree with its path. */
export function forEachTypedArray(
  value: unknown,
  visit: (path: string, arr: ArrayBufferView) => void,
  path = '$',
) {
  if (ArrayBuffer.isView(value)) visit(path, value);
  else if (Array.isArray(value)) value.forEach((v, i) => forEachTypedArray(v, visit, `${path}[${i}]`));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) forEachTypedArray(v, visit, `${path}.${k}`);
  }
}

/** Visits every number (inside typed arrays too) in a state tree; used for finiteness checks. */
export function allFinite(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (value instanceof Float32Array || value instanceof Float64Array) return value.every(Number.isFinite);
  if (ArrayBuffer.isView(value)) return true;
  if (Array.isArray(value)) return value.every(allFinite);
  if (value !== null && typeof value === 'object') return Object.values(value).every(allFinite);
  return true;
}

export interface Problem {
  name: string;
  x0: number[];
  minimum: number[];
  f(x: Float32Array): number;
  grad(x: Float32Array): Float32Array;
  /** Analytic Hessian diagonal (what Hutchinson estimates in expectation). */
  hessianDiag(x: Float32Array): Float32Array;
  /** Gauss-Newton diagonal (what GNB estimates; non-negative), for Sophia-G. */
  gaussNewtonDiag(x: Float32Array): Float32Array;
}

/** f = ½ Σ aᵢ xᵢ² with condition number 100. */
const A = [1, 4, 16, 100];
export const quadratic: Problem = {
  name: 'ill-conditioned quadratic',
  x0: [1, -1, 0.5, 2],
  minimum: [0, 0, 0, 0],
  f: (x) => 0.5 * A.reduce((s, a, i) => s + a * x[i] * x[i], 0),
  grad: (x) => Float32Array.from(A.map((a, i) => a * x[i])),
  hessianDiag: () => Float32Array.from(A),
  gaussNewtonDiag: () => Float32Array.from(A),
};

/** f = (1 − x)² + 100·(y − x²)², from the classic start (−1.2, 1). */
export const rosenbrock: Problem = {
  name: 'Rosenbrock',
  x0: [-1.2, 1],
  minimum: [1, 1],
  f: (x) => (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2,
  grad: (x) =>
    Float32Array.from([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)]),
  // ∂²f/∂x² = 2 − 400y + 1200x², ∂²f/∂y² = 200 (may be negative off the valley).
  hessianDiag: (x) => Float32Array.from([2 - 400 * x[1] + 1200 * x[0] ** 2, 200]),
  // As least squares r = (1 − x, 10(y − x²)): 2·diag(JᵀJ) = (2 + 800x², 200).
  gaussNewtonDiag: (x) => Float32Array.from([2 + 800 * x[0] ** 2, 200]),
};

export type Curvature = 'none' | 'hessian' | 'gaussNewton';

export interface RunOptions {
  curvature: Curvature;
  /** A curvature estimate arrives every k steps, starting at the first. */
  every: number;
  batchSize?: number;
}

/** The extra for step t (0-based) of a run on `problem` at params x. */
export function extraFor(problem: Problem, x: Float32Array, t: number, run: RunOptions): UpdateExtra {
  const extra: UpdateExtra = { batchSize: run.batchSize ?? 1 };
  if (run.curvature !== 'none' && t % run.every === 0) {
    extra.hessianDiag = run.curvature === 'hessian' ? problem.hessianDiag(x) : problem.gaussNewtonDiag(x);
  }
  return extra;
}

export interface Trajectory<S> {
  params: Float32Array;
  state: S;
}

/** Runs `steps` updates from (params, state), starting at step index `from`. */
export function runSteps<S>(
  opt: GradientTransformation<S>,
  problem: Problem,
  start: Trajectory<S>,
  from: number,
  steps: number,
  run: RunOptions,
): Trajectory<S> {
  let { params, state } = start;
  for (let t = from; t < from + steps; t++) {
    const [updates, next] = opt.update(
      problem.grad(params),
      state,
      params,
      extraFor(problem, params, t, run),
    );
    params = applyUpdates(params, updates);
    state = next;
  }
  return { params, state };
}
