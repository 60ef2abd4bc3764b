/** SGD with momentum / Nesterov and L2 weight decay, as torch.optim.SGD with dampening 0. */
import { chain, type ChainState } from './chain.js';
import { scaleByLearningRate } from './learning-rate.js';
import { trace } from './momentum.js';
import type { CoordinateMask, GradientTransformation, ScalarOrSchedule } from './transform.js';
import {
  checkBoolean,
  checkKnownOptions,
  checkMask,
  checkNumber,
  checkScalarOrSchedule,
} from './validate.js';
import { addDecayedWeights } from './weight-decay.js';

export interface SgdOptions {
  lr?: ScalarOrSchedule;
  momentum?: number;
  nesterov?: boolean;
  /** L2 term added to the gradient before momentum (torch semantics, not decoupled). */
  weightDecay?: number;
  mask?: CoordinateMask;
}

/**
 * g ← g + wd·θ; b ← μ·b + g (b₁ = g); d = g + μ·b (Nesterov) or b; θ ← θ − lr·d.
 * Defaults as torch 2.x: lr 1e-3, momentum 0, nesterov false, weight decay 0.
 */
export function sgd(options: SgdOptions = {}): GradientTransformation<ChainState> {
  const owner = 'sgd';
  checkKnownOptions(owner, options, ['lr', 'momentum', 'nesterov', 'weightDecay', 'mask']);
  const lr = checkScalarOrSchedule(owner, 'lr', options.lr ?? 1e-3);
  const momentum = checkNumber(owner, 'momentum', options.momentum ?? 0, {
    min: 0,
    max: 1,
    maxExclusive: true,
  });
  const nesterov = checkBoolean(owner, 'nesterov', options.nesterov ?? false);
  if (nesterov && momentum === 0) {
    throw new Error(`${owner}: option 'nesterov' requires option 'momentum' > 0, got momentum ${momentum}`);
  }
  const wd = checkNumber(owner, 'weightDecay', options.weightDecay ?? 0, { min: 0 });
  const mask = checkMask(owner, 'mask', options.mask);
  return chain(addDecayedWeights(wd, mask), trace({ decay: momentum, nesterov }), scaleByLearningRate(lr));
}
