/**
 * Shared by the fused-op tests (a helper, not a test file): weighted read-outs, HVPs checked against
 * finite differences of the gradient, and LayerNorm rows with variance well above eps.
 */
import fc from 'fast-check';
import type { Test } from 'tap';
import { type Tensor, grad, hvp, mul, sum } from '../../src/tensor/index.js';
import { type WorstErrors, checkProperty, f64, mixedError, stencilVec } from './finite-diff.js';
import { distinct, normals } from './random.js';

const HVP_TOL = 1e-5;
/** Step for differences of the gradient (as in hvp.test.ts): truncation and rounding both ≪ 1e-5. */
const HVP_STEP = 2.5e-4;

/** sum(y · w) with fixed random weights, so every element of y matters. */
export function readout(y: Tensor, seed: number, tag: string): Tensor {
  return sum(mul(y, f64(normals(y.size, seed, 'readout', tag), y.shape)));
}

/** Mixed error of the exact HVP against a fourth-order central difference of the gradient along v. */
export function fdHvpError(f: (x: Tensor) => Tensor, x: Float64Array, v: Float64Array): number {
  const hv = hvp(f, f64(x, [x.length]), f64(v, [v.length]));
  const g = grad(f);
  const fd = stencilVec(
    (d) =>
      g(
        f64(
          x.map((xi, i) => xi + d * v[i]),
          [x.length],
        ),
      ).data,
    HVP_STEP,
  );
  return mixedError(hv.data, fd);
}

/** Rows that are shuffled ramps plus noise: variance well above eps (as the composite's tests use). */
export function lnRows(rows: number, c: number, seed: number): Float64Array {
  const xs = new Float64Array(rows * c);
  for (let r = 0; r < rows; r++) {
    const ramp = distinct(c, 0.8, seed, 'row', r);
    const noise = normals(c, seed, 'noise', r);
    for (let j = 0; j < c; j++) xs[r * c + j] = ramp[j] + 0.2 * noise[j];
  }
  return xs;
}

/** A scalar function of θ (its size from a size parameter tt) whose HVP is checked. */
export interface HvpFamily {
  name: string;
  n: (tt: number) => number;
  /** The point to evaluate at (default: standard normals). */
  point?: (tt: number, seed: number) => Float64Array;
  f: (tt: number, seed: number) => (x: Tensor) => Tensor;
}

/** Checks each family's HVP on 8 random (tt, seed) draws (tt in 1..5). */
export function checkHvpFamilies(t: Test, log: WorstErrors, families: readonly HvpFamily[]): void {
  for (const fam of families) {
    checkProperty(
      t,
      log,
      `HVP ${fam.name}`,
      fc.record({ tt: fc.integer({ min: 1, max: 5 }), seed: fc.integer({ min: 0, max: 0x7fffffff }) }),
      ({ tt, seed }) => {
        const n = fam.n(tt);
        const x = fam.point ? fam.point(tt, seed) : normals(n, seed, 'x');
        return fdHvpError(fam.f(tt, seed), x, normals(n, seed, 'v'));
      },
      HVP_TOL,
      8,
    );
  }
}
