/** Lion (google/automl lion/lion_pytorch.py): sign of an interpolated momentum. */
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
  checkStateObject,
  checkStateVector,
} from './validate.js';
import { addDecayedWeights } from './weight-decay.js';

export interface LionState {
  mu: Float32Array;
}

/** u = sign(b1·m + (1−b1)·g), then m ← b2·m + (1−b2)·g (the update uses the old m). sign(0) = 0. */
export function scaleByLion(options: { b1?: number; b2?: number } = {}): GradientTransformation<LionState> {
  const owner = 'scaleByLion';
  checkKnownOptions(owner, options, ['b1', 'b2']);
  const b1 = checkNumber(owner, 'b1', options.b1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
  const b2 = checkNumber(owner, 'b2', options.b2 ?? 0.99, { min: 0, max: 1, maxExclusive: true });
  return {
    freshUpdates: true,
    init(params) {
      return { mu: new Float32Array(params.length) };
    },
    update(grads, state, _params, extra) {
      const mu0 = checkStateVector(owner, 'mu', checkStateObject(owner, state).mu);
      checkLength(owner, 'gradient', grads, mu0.length);
      const mu = takeArray(grads.length, extra);
      const out = takeArray(grads.length, extra);
      for (let i = 0; i < grads.length; i++) {
        // The official code forms this interpolation in float32 before taking the sign.
        out[i] = Math.sign(Math.fround(b1 * mu0[i] + (1 - b1) * grads[i]));
        mu[i] = b2 * mu0[i] + (1 - b2) * grads[i];
      }
      return [out, { mu }];
    },
  };
}

export interface LionOptions {
  lr?: ScalarOrSchedule;
  b1?: number;
  b2?: number;
  weightDecay?: number;
  mask?: CoordinateMask;
}

/** θ ← θ·(1 − lr·wd) − lr·sign(b1·m + (1−b1)·g). Official defaults: lr 1e-4, β (0.9, 0.99), wd 0. */
export function lion(options: LionOptions = {}): GradientTransformation<ChainState> {
  const owner = 'lion';
  checkKnownOptions(owner, options, ['lr', 'b1', 'b2', 'weightDecay', 'mask']);
  const lr = checkScalarOrSchedule(owner, 'lr', options.lr ?? 1e-4);
  const b1 = checkNumber(owner, 'b1', options.b1 ?? 0.9, { min: 0, max: 1, maxExclusive: true });
  const b2 = checkNumber(owner, 'b2', options.b2 ?? 0.99, { min: 0, max: 1, maxExclusive: true });
  const wd = checkNumber(owner, 'weightDecay', options.weightDecay ?? 0, { min: 0 });
  const mask = checkMask(owner, 'mask', options.mask);
  return chain(scaleByLion({ b1, b2 }), addDecayedWeights(wd, mask), scaleByLearningRate(lr));
}
