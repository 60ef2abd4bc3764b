/**
 * gpu.js kernel sources of the device-resident MLP Gauss-Newton-Bartlett probe (mlp-gnb.ts) and the
 * dense/tanh pieces the Hutchinson probe shares (mlp-hutchinson.ts). Weights are [out, in] row-major
 * in the flat θ. They follow src/kernels/gpujs/sources.ts's rules for gpu.js sources.
 */
import { type KernelSource, TX, TY, arrays, ints } from '../../kernels/gpujs/sources.js';

/**
 * Dense layer z[r, j] = Σ_p x[r, p]·θ[wOff + j·in + p] + θ[bOff + j], then tanh when `act`.
 * Output [out, rows]; args (x, theta, inF, wOff, bOff).
 */
export function linearSource(act: 'tanh' | 'none'): KernelSource {
  const ret = act === 'tanh' ? 'return Math.tanh(Math.min(Math.max(s, -15), 15));' : 'return s;';
  const source = `function (x, theta, inF, wOff, bOff) {
  let s = theta[bOff + ${TX}];
  for (let p = 0; p < inF; p++) {
    s += x[${TY} * inF + p] * theta[wOff + ${TX} * inF + p];
  }
  ${ret}
}`;
  return {
    key: `linear:${act}`,
    source,
    argumentTypes: { ...arrays('x', 'theta'), ...ints('inF', 'wOff', 'bOff') },
  };
}

/** Squared weight gradient (Σ_r dz[r, j]·x[r, p])²: output [in, out] (x = p, y = j); args (dz, x, rows, inF, outF). */
export function weightGradSqSource(): KernelSource {
  const source = `function (dz, x, rows, inF, outF) {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    s += dz[r * outF + ${TY}] * x[r * inF + ${TX}];
  }
  return s * s;
}`;
  return {
    key: 'weightGradSq',
    source,
    argumentTypes: { ...arrays('dz', 'x'), ...ints('rows', 'inF', 'outF') },
  };
}

/** Squared bias gradient (Σ_r dz[r, j])²: output [out]; args (dz, rows, outF). */
export function biasGradSqSource(): KernelSource {
  const source = `function (dz, rows, outF) {
  let s = 0;
  for (let r = 0; r < rows; r++) {
    s += dz[r * outF + ${TX}];
  }
  return s * s;
}`;
  return { key: 'biasGradSq', source, argumentTypes: { ...arrays('dz'), ...ints('rows', 'outF') } };
}

/**
 * Back through a dense layer and the tanh before it: dz_prev[r, p] = (Σ_j dz[r, j]·W[j, p])·(1 − h[r, p]²)
 * where h = tanh output feeding the layer. Output [in, rows]; args (dz, theta, h, inF, outF, wOff).
 */
export function backTanhSource(): KernelSource {
  const source = `function (dz, theta, h, inF, outF, wOff) {
  let s = 0;
  for (let j = 0; j < outF; j++) {
    s += dz[${TY} * outF + j] * theta[wOff + j * inF + ${TX}];
  }
  const hv = h[${TY} * inF + ${TX}];
  return s * (1 - hv * hv);
}`;
  return {
    key: 'backTanh',
    source,
    argumentTypes: { ...arrays('dz', 'theta', 'h'), ...ints('inF', 'outF', 'wOff') },
  };
}
