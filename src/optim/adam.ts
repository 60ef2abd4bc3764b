/** Adam moments (optax.scale_by_adam) and the AdamW alias (torch.optim.AdamW defaults). */
import {
  type AdamMomentsKernel,
  type AdamMomentsLoop,
  WasmAdam,
  adamConstants,
  adamSelfCheck,
} from '../kernels/wasm/adam.js';
import { checkedOnce } from '../kernels/wasm/checked-kernel.js';
import { takeArray } from './array-pool.js';
import { chain, type ChainState } from './chain.js';
import { scaleByLearningRate } from './learning-rate.js';
import type { CoordinateMask, GradientTransformation, ScalarOrSchedule } from './transform.js';
import {
  checkKnownOptions,
  checkLength,
  checkMask,
  checkNumber,
  checkScalarOrSchedule,
  checkStateCount,
  checkStateObject,
  checkStateVector,
} from './validate.js';
import { addDecayedWeights } from './weight-decay.js';

export interface ScaleByAdamOptions {
  b1?: number;
  b2?: number;
  eps?: number;
  /** Added inside the square root (optax's eps_root), default 0. */
  epsRoot?: number;
}

export interface AdamState {
  count: number;
  mu: Float32Array;
  nu: Float32Array;
}

/**
 * The moments and update of one Adam step in JavaScript, per element in float64 with mu and nu rounded
 * to float32 on store: the reference (and fallback) of the WebAssembly kernel, which matches it bit for bit.
 */
export const adamMomentsLoop: AdamMomentsLoop = (
  g,
  mu0,
  nu0,
  mu,
  nu,
  out,
  { b1, b2, bc1, bc2, eps, epsRoot },
) => {
  for (let i = 0; i < g.length; i++) {
    const gi = g[i];
    mu[i] = b1 * mu0[i] + (1 - b1) * gi;
    nu[i] = b2 * nu0[i] + (1 - b2) * gi * gi;
    // The stored (float32) moments are what the next step sees, so the update uses them too.
    out[i] = mu[i] / bc1 / (Math.sqrt(nu[i] / bc2 + epsRoot) + eps);
  }
};

/** Below this many elements the copies into and out of wasm memory cost more than the loop saves. */
const MIN_WASM = 64;

/**
 * The WebAssembly SIMD kernel (src/kernels/wasm/adam.ts), built on first use and used only when the
 * engine has WebAssembly SIMD and the kernel passes its exact self-check against `adamMomentsLoop`;
 * otherwise null and the loop runs. A request memory cannot hold falls back to the loop too.
 */
const adamKernel = checkedOnce(
  WasmAdam.supported,
  (): AdamMomentsKernel => {
    const w = new WasmAdam();
    return (g, mu0, nu0, c, allocate = (n) => new Float32Array(n)) => {
      const r = w.moments(g, mu0, nu0, c, allocate);
      if (r) return r;
      const n = g.length;
      const [mu, nu, out] = [allocate(n), allocate(n), allocate(n)];
      adamMomentsLoop(g, mu0, nu0, mu, nu, out, c);
      return { mu, nu, out };
    };
  },
  (kernel) => adamSelfCheck(kernel, adamMomentsLoop),
);

/** m ← b1·m + (1−b1)·g; v ← b2·v + (1−b2)·g²; u = m̂/(√(v̂ + epsRoot) + eps) with bias-corrected m̂, v̂. */
export function scaleByAdam(options: ScaleByAdamOptions = {}): GradientTransformation<AdamState> {
  const owner = 'scaleByAdam';
  checkKnownOptions(owner, options, ['b1', 'b2', 'eps', 'epsRoot']);
  const b1 = checkNumber(owner, 'b1', options.b1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
  const b2 = checkNumber(owner, 'b2', options.b2 ?? 0.999, { min: 0, max: 1, maxExclusive: true });
  const eps = checkNumber(owner, 'eps', options.eps ?? 1e-8, { min: 0 });
  const epsRoot = checkNumber(owner, 'epsRoot', options.epsRoot ?? 0, { min: 0 });
  return {
    freshUpdates: true,
    init(params) {
      return { count: 0, mu: new Float32Array(params.length), nu: new Float32Array(params.length) };
    },
    update(grads, state, _params, extra) {
      const s = checkStateObject(owner, state);
      const count = checkStateCount(owner, s.count) + 1;
      const mu0 = checkStateVector(owner, 'mu', s.mu);
      const nu0 = checkStateVector(owner, 'nu', s.nu, mu0.length);
      checkLength(owner, 'gradient', grads, mu0.length);
      const c = adamConstants(b1, b2, count, eps, epsRoot);
      const allocate = (n: number) => takeArray(n, extra);
      const wasm = grads.length >= MIN_WASM ? adamKernel() : null;
      if (wasm) {
        const { mu, nu, out } = wasm(grads, mu0, nu0, c, allocate);
        return [out, { count, mu, nu }];
      }
      const [mu, nu, out] = [allocate(grads.length), allocate(grads.length), allocate(grads.length)];
      adamMomentsLoop(grads, mu0, nu0, mu, nu, out, c);
      return [out, { count, mu, nu }];
    },
  };
}

export interface AdamWOptions {
  lr?: ScalarOrSchedule;
  b1?: number;
  b2?: number;
  eps?: number;
  weightDecay?: number;
  mask?: CoordinateMask;
}

/**
 * AdamW with PyTorch's defaults (lr 1e-3, β (0.9, 0.999), eps 1e-8, weight decay 0.01):
 * θ ← θ − lr·(m̂/(√v̂ + eps) + wd·θ), i.e. θ·(1 − lr·wd) − lr·m̂/(√v̂ + eps).
 */
export function adamw(options: AdamWOptions = {}): GradientTransformation<ChainState> {
  const owner = 'adamw';
  checkKnownOptions(owner, options, ['lr', 'b1', 'b2', 'eps', 'weightDecay', 'mask']);
  const lr = checkScalarOrSchedule(owner, 'lr', options.lr ?? 1e-3);
  const b1 = checkNumber(owner, 'b1', options.b1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
  const b2 = checkNumber(owner, 'b2', options.b2 ?? 0.999, { min: 0, max: 1, maxExclusive: true });
  const eps = checkNumber(owner, 'eps', options.eps ?? 1e-8, { min: 0 });
  const wd = checkNumber(owner, 'weightDecay', options.weightDecay ?? 0.01, { min: 0 });
  const mask = checkMask(owner, 'mask', options.mask);
  return chain(scaleByAdam({ b1, b2, eps }), addDecayedWeights(wd, mask), scaleByLearningRate(lr));
}
