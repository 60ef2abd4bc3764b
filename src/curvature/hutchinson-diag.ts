/**
 * Hutchinson's diagonal estimator: E[z ⊙ Hz] = diag(H) for Rademacher z. Each probe is one exact
 * Hessian-vector product (double backward). Probe vectors are counter-based draws of
 * (seed, 'hutchinson', step, probe), so an estimate never depends on scheduling.
 */
import { valueGradHvp } from '../tensor/autodiff.js';
import { withScratch } from '../tensor/scratch.js';
import { Tensor, freshArray } from '../tensor/tensor.js';
import { rng } from '../random/counter-rng.js';

export interface HutchinsonOptions {
  /** Number of probe vectors averaged (default 1, as Sophia-H and AdaHessian use). */
  probes?: number;
  seed?: number;
  /** Part of the random path, so each refresh uses fresh probes. */
  step?: number;
}

export interface DiagEstimate {
  /** The diagonal estimate, same dtype and length as the parameters. */
  diag: Float32Array | Float64Array;
  /** f at the parameters and its gradient (free by-products of the HVP). */
  loss: number;
  grad: Float32Array | Float64Array;
}

export function hutchinsonDiag(
  f: (flat: Tensor) => Tensor,
  params: Tensor,
  options: HutchinsonOptions = {},
): DiagEstimate {
  const probes = options.probes ?? 1;
  if (!Number.isInteger(probes) || probes < 1)
    throw new RangeError(`hutchinsonDiag: probes must be a positive integer, got ${probes}`);
  const n = params.size;
  const diag = freshArray(params.dtype, n);
  let loss = 0;
  let grad: Float32Array | Float64Array = freshArray(params.dtype, n);
  const z = freshArray(params.dtype, n);
  for (let k = 0; k < probes; k++) {
    rng(options.seed ?? 0, 'hutchinson', options.step ?? 0, k).fillRademacher(z);
    // Each HVP's intermediates live in scratch memory; only the loss and a copy of the gradient leave.
    [loss, grad] = withScratch(() => {
      const [y, g, hz] = valueGradHvp(f, params, new Tensor(z, params.shape));
      for (let i = 0; i < n; i++) diag[i] += (z[i] * hz.data[i]) / probes;
      return [y.item(), g.data.slice()] as const;
    });
  }
  return { diag, loss, grad };
}
