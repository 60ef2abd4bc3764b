/** Gradient clipping by global norm (optax.clip_by_global_norm / torch clip_grad_norm_). */
import { sumOfSquares } from '../kernels/passes.js';
import type { GradientTransformation } from './transform.js';
import { checkNumber } from './validate.js';

export type EmptyState = Record<string, never>;

/** Euclidean norm with float64 accumulation: float32 sums lose digits over millions of coordinates. */
export function globalNorm(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/**
 * ‖v‖ and whether every value is finite, in one pass. Σ v² in float64 is finite exactly when every value
 * of a Float32Array is: a float32 square is below 1.2e77, so no sum of fewer than 1e231 of them overflows.
 * The sum is `sumOfSquares`'s (eight partial sums, WebAssembly SIMD where available): it may differ from
 * globalNorm's sequential sum in the last bits, and only reports, never changes parameters.
 */
export function normIfFinite(v: Float32Array): { norm: number; finite: boolean } {
  const s = sumOfSquares(v);
  return { norm: Math.sqrt(s), finite: Number.isFinite(s) };
}

/** If ‖g‖ > maxNorm, scales g by maxNorm/‖g‖; otherwise returns a copy of g. */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<EmptyState> {
  const limit = checkNumber('clipByGlobalNorm', 'maxNorm', maxNorm, { min: 0, minExclusive: true });
  return {
    freshUpdates: true,
    init() {
      return {};
    },
    update(grads, state) {
      const norm = globalNorm(grads);
      const out = new Float32Array(grads);
      if (norm > limit) {
        const scale = limit / norm;
        for (let i = 0; i < out.length; i++) out[i] = grads[i] * scale;
      }
      return [out, state];
    },
  };
}
