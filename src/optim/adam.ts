/** Adam moments (optax.scale_by_adam) and the AdamW alias (torch.optim.AdamW defaults). */
import { adamConstants } from '../kernels/cpu/passes.js';
import { adamMoments } from '../kernels/passes.js';
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
      const { mu, nu, out } = adamMoments(grads, mu0, nu0, c, (n) => takeArray(n, extra));
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
