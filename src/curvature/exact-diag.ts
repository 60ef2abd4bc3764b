/**
 * The exact Hessian diagonal by one HVP per coordinate (H·eᵢ)ᵢ. O(d) HVPs: a test oracle for small
 * models, not for training.
 */
import { hvp } from '../tensor/autodiff.js';
import { Tensor, freshArray } from '../tensor/tensor.js';

export function exactDiag(f: (flat: Tensor) => Tensor, params: Tensor): Float32Array | Float64Array {
  const n = params.size;
  const diag = freshArray(params.dtype, n);
  const e = freshArray(params.dtype, n);
  for (let i = 0; i < n; i++) {
    e[i] = 1;
    diag[i] = hvp(f, params, new Tensor(e.slice(), params.shape)).data[i];
    e[i] = 0;
  }
  return diag;
}

/** The dense Hessian by d HVPs (row-major d×d), for tests and small diagnostics. */
export function denseHessian(f: (flat: Tensor) => Tensor, params: Tensor): Float64Array {
  const n = params.size;
  const out = new Float64Array(n * n);
  const e = freshArray(params.dtype, n);
  for (let i = 0; i < n; i++) {
    e[i] = 1;
    out.set(hvp(f, params, new Tensor(e.slice(), params.shape)).data, i * n);
    e[i] = 0;
  }
  return out;
}
