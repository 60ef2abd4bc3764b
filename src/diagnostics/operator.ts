/**
 * The Hessian as a linear operator. Every diagnostic here touches the Hessian only through
 * Hessian-vector products `v ↦ Hv`, so the same code runs on an autodiff loss (exact HVP by double
 * backward), on an average over several batches, or on an explicit matrix (tests, small problems).
 */
import { hvp } from '../tensor/autodiff.js';
import { ShapeError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';

/** A symmetric linear operator v ↦ Hv on vectors of the parameter count. */
export type HvpFn = (v: Float64Array | Float32Array) => Float64Array | Float32Array;

function castFor(params: Tensor, v: Float64Array | Float32Array): Float64Array | Float32Array {
  if (v.length !== params.size)
    throw new ShapeError('hvpOperator', `vector has ${v.length} elements, parameters have ${params.size}`);
  if (params.dtype === 'float64') return v instanceof Float64Array ? v : Float64Array.from(v);
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

/**
 * The exact HVP operator of a scalar loss `f` at the flat parameters `params`. Vectors are converted
 * to the parameters' dtype; the result has that dtype.
 */
export function hvpOperator(f: (flat: Tensor) => Tensor, params: Tensor): HvpFn {
  return (v) => hvp(f, params, new Tensor(castFor(params, v), params.shape)).data;
}

/**
 * The HVP of the mean loss over several batches, (1/B) Σ_b H_b v (PyHessian's "full dataset" mode):
 * one HVP per batch per call, accumulated in float64.
 */
export function batchedHvpOperator(fs: readonly ((flat: Tensor) => Tensor)[], params: Tensor): HvpFn {
  if (fs.length === 0) throw new RangeError('batchedHvpOperator: needs at least one batch loss');
  return (v) => {
    const cast = new Tensor(castFor(params, v), params.shape);
    const out = new Float64Array(params.size);
    for (const f of fs) {
      const hv = hvp(f, params, cast).data;
      for (let i = 0; i < out.length; i++) out[i] += hv[i];
    }
    for (let i = 0; i < out.length; i++) out[i] /= fs.length;
    return out;
  };
}

/** The operator of an explicit symmetric n×n row-major matrix (for tests and small dense problems). */
export function matrixOperator(a: ArrayLike<number>, n: number): HvpFn {
  if (a.length !== n * n) throw new ShapeError('matrixOperator', `matrix has ${a.length} entries, not ${n}²`);
  return (v) => {
    if (v.length !== n) throw new ShapeError('matrixOperator', `vector has ${v.length} elements, not ${n}`);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * v[j];
      out[i] = s;
    }
    return out;
  };
}
