/**
 * gpu.js kernel sources of the tanh-MLP Hessian-vector product (Pearlmutter's R-operator), for the
 * device-resident Hutchinson probe (mlp-hutchinson.ts). Notation per dense layer
 * z = a·Wᵀ + b (W [out, in] at wOff in the flat θ, b at bOff), a' = tanh(z); v is the direction in
 * the same flat layout (V, c its pieces); δ = ∂L/∂z and Rδ its directional derivative along v.
 * The rules of src/kernels/gpujs/sources.ts apply (indices inline, sizes as Integer arguments, outputs [x, y] with x the
 * fastest index). Layer 0 has R(a) = 0, so its kernels come in a variant without that argument.
 */
import type { KernelSource } from '../../kernels/gpujs/sources.js';

const TX = 'this.thread.x';
const TY = 'this.thread.y';

const arrays = (...names: string[]) => Object.fromEntries(names.map((n) => [n, 'Array' as const]));
const ints = (...names: string[]) => Object.fromEntries(names.map((n) => [n, 'Integer' as const]));

/**
 * R(z)[r, j] = Σ_p R(a)[r, p]·W[j, p] + a[r, p]·V[j, p] + c[j]; with `tanh`, R(a') = (1 − a'²)·R(z)
 * where h = a' (the forward's tanh output). Output [out, rows];
 * args (ra, a, theta, v, h, inF, outF, wOff, bOff) — without `ra` when `first`, without `h` unless `tanh`.
 */
export function rLinearSource(first: boolean, tanh: boolean): KernelSource {
  const ra = first ? '' : 'ra, ';
  const h = tanh ? 'h, ' : '';
  const term = first
    ? `a[${TY} * inF + p] * v[wOff + ${TX} * inF + p]`
    : `ra[${TY} * inF + p] * theta[wOff + ${TX} * inF + p] + a[${TY} * inF + p] * v[wOff + ${TX} * inF + p]`;
  const ret = tanh ? `const hv = h[${TY} * outF + ${TX}];\n  return (1 - hv * hv) * s;` : 'return s;';
  const source = `function (${ra}a, theta, v, ${h}inF, outF, wOff, bOff) {
  let s = v[bOff + ${TX}];
  for (let p = 0; p < inF; p++) {
    s += ${term};
  }
  ${ret}
}`;
  return {
    key: `rLinear:${first ? 'first' : 'inner'}:${tanh ? 'tanh' : 'none'}`,
    source,
    argumentTypes: {
      ...arrays(...(first ? [] : ['ra']), 'a', 'theta', 'v', ...(tanh ? ['h'] : [])),
      ...ints('inF', 'outF', 'wOff', 'bOff'),
    },
  };
}

/**
 * R of the softmax cross-entropy's logit gradient: scale·p_c·(R(z)_c − Σ_k p_k·R(z)_k) per row, with
 * p = softmax(l) from the rows' log-sum-exp. Output [classes, rows]; args (l, lse, rz, classes, scale).
 */
export function rSoftmaxXentSource(): KernelSource {
  const source = `function (l, lse, rz, classes, scale) {
  let m = 0;
  for (let k = 0; k < classes; k++) {
    m += Math.exp(l[${TY} * classes + k] - lse[${TY}]) * rz[${TY} * classes + k];
  }
  const pr = Math.exp(l[${TY} * classes + ${TX}] - lse[${TY}]);
  return scale * pr * (rz[${TY} * classes + ${TX}] - m);
}`;
  return {
    key: 'rSoftmaxXent',
    source,
    argumentTypes: { ...arrays('l', 'lse', 'rz'), ...ints('classes'), scale: 'Float' },
  };
}

/**
 * A weight's gradient Σ_r δ[r, j]·a[r, p]: output [in, out] (x = p, y = j); args (dz, a, rows, inF, outF).
 */
export function weightGradSource(): KernelSource {
  const source = `function (dz, a, rows, inF, outF) {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    s += dz[r * outF + ${TY}] * a[r * inF + ${TX}];
  }
  return s;
}`;
  return {
    key: 'weightGrad',
    source,
    argumentTypes: { ...arrays('dz', 'a'), ...ints('rows', 'inF', 'outF') },
  };
}

/**
 * v ⊙ Hv for a weight: V[j, p]·Σ_r (Rδ[r, j]·a[r, p] + δ[r, j]·R(a)[r, p]). Output [in, out];
 * args (rdz, dz, a, ra, v, rows, inF, outF, wOff) — without `dz` and `ra` when `first` (R(a) = 0).
 */
export function weightHvpSource(first: boolean): KernelSource {
  const args = first ? 'rdz, a, v' : 'rdz, dz, a, ra, v';
  const term = first
    ? `rdz[r * outF + ${TY}] * a[r * inF + ${TX}]`
    : `rdz[r * outF + ${TY}] * a[r * inF + ${TX}] + dz[r * outF + ${TY}] * ra[r * inF + ${TX}]`;
  const source = `function (${args}, rows, inF, outF, wOff) {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    s += ${term};
  }
  return v[wOff + ${TY} * inF + ${TX}] * s;
}`;
  return {
    key: `weightHvp:${first ? 'first' : 'inner'}`,
    source,
    argumentTypes: {
      ...arrays(...(first ? ['rdz', 'a', 'v'] : ['rdz', 'dz', 'a', 'ra', 'v'])),
      ...ints('rows', 'inF', 'outF', 'wOff'),
    },
  };
}

/** A bias's gradient Σ_r δ[r, j]: output [out]; args (dz, rows, outF). */
export function biasGradSource(): KernelSource {
  const source = `function (dz, rows, outF) {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    s += dz[r * outF + ${TX}];
  }
  return s;
}`;
  return { key: 'biasGrad', source, argumentTypes: { ...arrays('dz'), ...ints('rows', 'outF') } };
}

/** c ⊙ Hc for a bias: c[j]·Σ_r Rδ[r, j]. Output [out]; args (rdz, v, rows, outF, bOff). */
export function biasHvpSource(): KernelSource {
  const source = `function (rdz, v, rows, outF, bOff) {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    s += rdz[r * outF + ${TX}];
  }
  return v[bOff + ${TX}] * s;
}`;
  return {
    key: 'biasHvp',
    source,
    argumentTypes: { ...arrays('rdz', 'v'), ...ints('rows', 'outF', 'bOff') },
  };
}

/**
 * R of the backward step through a dense layer and the tanh before it (h = that tanh's output):
 * Rδ'[r, p] = (Σ_j Rδ[r, j]·W[j, p] + δ[r, j]·V[j, p])·(1 − h²) − 2·h·R(h)·Σ_j δ[r, j]·W[j, p].
 * Output [in, rows]; args (rdz, dz, theta, v, h, rh, inF, outF, wOff).
 */
export function rBackTanhSource(): KernelSource {
  const source = `function (rdz, dz, theta, v, h, rh, inF, outF, wOff) {
  let s = 0;
  let g = 0;
  for (let j = 0; j < outF; j++) {
    s += rdz[${TY} * outF + j] * theta[wOff + j * inF + ${TX}] + dz[${TY} * outF + j] * v[wOff + j * inF + ${TX}];
    g += dz[${TY} * outF + j] * theta[wOff + j * inF + ${TX}];
  }
  const hv = h[${TY} * inF + ${TX}];
  return s * (1 - hv * hv) - 2 * hv * rh[${TY} * inF + ${TX}] * g;
}`;
  return {
    key: 'rBackTanh',
    source,
    argumentTypes: { ...arrays('rdz', 'dz', 'theta', 'v', 'h', 'rh'), ...ints('inF', 'outF', 'wOff') },
  };
}
