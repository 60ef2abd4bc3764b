/**
 * A curvature pair (v, H·v) for PSGD's Hessian fitting: v is a standard Gaussian direction drawn from the
 * counter-based stream (seed, 'hvp-pair', step), so the pair never depends on scheduling, and H·v is the
 * exact Hessian-vector product of f at the parameters (double backward). psgd_torch's KronNewton draws v
 * the same way (torch.randn_like) and fits its preconditioner so that P·(H·v) ≈ v.
 */
import { valueGradHvp } from '../tensor/autodiff.js';
import { withScratch } from '../tensor/scratch.js';
import { Tensor, freshArray } from '../tensor/tensor.js';
import { rng } from '../random/counter-rng.js';

export interface HvpPairOptions {
  seed?: number;
  /** Part of the random path, so each refresh uses a fresh direction. */
  step?: number;
}

export interface HvpPair {
  /** The probe direction, same dtype and length as the parameters. */
  v: Float32Array | Float64Array;
  /** H·v at the parameters. */
  hv: Float32Array | Float64Array;
  /** f at the parameters and its gradient (free by-products of the HVP). */
  loss: number;
  grad: Float32Array | Float64Array;
}

/** The direction of the pair launched at `step`: rng(seed, 'hvp-pair', step), standard normal. */
export function hvpPairDirection<T extends Float32Array | Float64Array>(out: T, seed = 0, step = 0): T {
  return rng(seed, 'hvp-pair', step).fillNormal(out);
}

export function hvpPair(f: (flat: Tensor) => Tensor, params: Tensor, options: HvpPairOptions = {}): HvpPair {
  const v = hvpPairDirection(freshArray(params.dtype, params.size), options.seed, options.step);
  // The HVP's intermediates live in scratch memory; only copies leave.
  return withScratch(() => {
    const [y, g, hv] = valueGradHvp(f, params, new Tensor(v, params.shape));
    return { v, hv: hv.data.slice(), loss: y.item(), grad: g.data.slice() };
  });
}
