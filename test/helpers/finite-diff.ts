/**
 * Finite-difference machinery shared by the tensor tests (a helper, not a test file).
 *
 * Derivatives are estimated with the fourth-order central stencil
 *   f'(0) ≈ [8(f(h) − f(−h)) − (f(2h) − f(−2h))] / 12h,
 * whose truncation error is O(h⁴) — with h = 1e-3 that is ~1e-13·f⁽⁵⁾, and the rounding error is
 * ~1e-16·|f|/h — so a float64 check can hold analytic derivatives to 1e-6 and tighter.
 */
import fc from 'fast-check';
import type { Test } from 'tap';
import { type Tensor, gradients, mul, noGrad, sum, tensor, withGradMode } from '../../src/tensor/index.js';
import { normals } from './random.js';

export const FD_STEP = 1e-3;

/** Fourth-order central difference of φ at 0. */
export function stencil(phi: (delta: number) => number, h = FD_STEP): number {
  return (8 * (phi(h) - phi(-h)) - (phi(2 * h) - phi(-2 * h))) / (12 * h);
}

/** Fourth-order central difference of a vector-valued φ at 0 (elementwise). */
export function stencilVec(phi: (delta: number) => ArrayLike<number>, h = FD_STEP): Float64Array {
  const p1 = phi(h);
  const m1 = phi(-h);
  const p2 = phi(2 * h);
  const m2 = phi(-2 * h);
  const out = new Float64Array(p1.length);
  for (let i = 0; i < out.length; i++) out[i] = (8 * (p1[i] - m1[i]) - (p2[i] - m2[i])) / (12 * h);
  return out;
}

/**
 * The worst mixed relative/absolute error between two arrays: max_i |a_i − b_i| / max(1, |a_i|, |b_i|).
 * Relative for large entries, absolute below 1 (where a relative error of a near-zero derivative
 * measures only the finite-difference noise). Infinity for mismatched lengths or non-finite entries.
 */
export function mixedError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i]), Math.abs(b[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}

/** max_i |a_i − b_i| / max(|b|_∞, tiny): error relative to the reference vector's scale. */
export function scaledError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst / Math.max(scale, 1e-300);
}

export function f64(data: ArrayLike<number>, shape: readonly number[]): Tensor {
  return tensor(Float64Array.from(data), shape, 'float64');
}

export interface GradCheck {
  /** Worst mixed error over all inputs' gradients. */
  error: number;
  analytic: Float64Array[];
  numeric: Float64Array[];
}

/**
 * Checks reverse-mode gradients of every input of `f` against central differences. The (possibly
 * tensor-valued) output is reduced to a scalar with fixed random weights, sum(f(x) · w), so every
 * output element's derivative is checked. Inputs must be float64.
 */
export function gradcheck(
  f: (...xs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  seed: number,
): GradCheck {
  for (const x of inputs) if (x.dtype !== 'float64') throw new Error('gradcheck needs float64 inputs');
  const leaves = inputs.map((x) => x.requireGrad());
  const y = withGradMode(true, () => f(...leaves));
  const w = f64(normals(y.size, seed, 'gradcheck-weights'), y.shape);
  const loss = withGradMode(true, () => sum(mul(y, w)));
  const grads = gradients(loss, leaves);
  const analytic = grads.map((g, i) => {
    if (g.dtype !== 'float64' || g.size !== inputs[i].size || g.shape.join() !== inputs[i].shape.join()) {
      throw new Error(
        `gradient ${i} has ${g.dtype} shape [${g.shape.join(', ')}], input is [${inputs[i].shape.join(', ')}]`,
      );
    }
    return Float64Array.from(g.data);
  });
  const numeric = inputs.map((x, i) => {
    const base = x.data;
    const out = new Float64Array(x.size);
    for (let j = 0; j < x.size; j++) {
      out[j] = stencil((delta) => {
        const d = Float64Array.from(base);
        d[j] += delta;
        const xs = inputs.map((z, k) => (k === i ? tensor(d, z.shape, 'float64') : z));
        return noGrad(() => sum(mul(f(...xs), w)).item());
      });
    }
    return out;
  });
  let error = 0;
  for (let i = 0; i < inputs.length; i++) error = Math.max(error, mixedError(analytic[i], numeric[i]));
  return { error, analytic, numeric };
}

/** Worst errors by check name, for the report at the end of a file. */
export class WorstErrors {
  private readonly worst = new Map<string, number>();

  record(name: string, error: number): void {
    this.worst.set(name, Math.max(this.worst.get(name) ?? 0, error));
  }

  get(name: string): number {
    return this.worst.get(name) ?? 0;
  }

  overall(): number {
    let w = 0;
    for (const e of this.worst.values()) w = Math.max(w, e);
    return w;
  }

  summary(): string {
    return [...this.worst.entries()].map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('\n');
  }
}

export const FC_RUNS = Number(process.env.HESSFLOW_FC_RUNS ?? 0) || undefined;
const FC_SEED = process.env.HESSFLOW_FC_SEED === undefined ? undefined : Number(process.env.HESSFLOW_FC_SEED);

/**
 * Runs a fast-check property whose body returns an error measure, requires every run's error to be
 * ≤ tol, and records the worst. A failing run throws fast-check's report (with the seed and the
 * shrunk counterexample) into the tap test.
 */
export function checkProperty<T>(
  t: Test,
  log: WorstErrors,
  name: string,
  arb: fc.Arbitrary<T>,
  body: (value: T) => number,
  tol: number,
  numRuns = 25,
): void {
  let worst = 0;
  let runs = 0;
  fc.assert(
    fc.property(arb, (value) => {
      const e = body(value);
      runs++;
      worst = Math.max(worst, e);
      if (!(e <= tol)) throw new Error(`${name}: error ${e} exceeds ${tol}`);
    }),
    { numRuns: FC_RUNS ?? numRuns, ...(FC_SEED === undefined ? {} : { seed: FC_SEED }) },
  );
  log.record(name, worst);
  t.ok(
    runs >= 1 && worst <= tol,
    `${name}: worst error ${worst.toExponential(2)} ≤ ${tol} over ${runs} runs`,
  );
}
