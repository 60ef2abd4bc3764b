/** One builder for the curvature optimizers' aliases, which all chain scale → decoupled decay → lr. */
import { chain, type ChainState } from './chain.js';
import { scaleByLearningRate } from './learning-rate.js';
import type { CoordinateMask, GradientTransformation, ScalarOrSchedule } from './transform.js';
import { checkKnownOptions, checkMask, checkNumber, checkScalarOrSchedule } from './validate.js';
import { addDecayedWeights } from './weight-decay.js';

/** The options such an alias adds to those of its scale transformation. */
export interface DecoupledDecayOptions {
  lr?: ScalarOrSchedule;
  weightDecay?: number;
  mask?: CoordinateMask;
}

/**
 * chain(scale, addDecayedWeights(wd, mask), scaleByLearningRate(lr)), i.e. updates −lr·(u + wd·θ).
 * Known options are 'lr', then `scaleKeys`, then 'weightDecay' and 'mask'; lr, weightDecay and mask are
 * checked before `scale` is built from the `scaleKeys` options (passed on as given, undefined included).
 */
export function decoupledDecayAlias<O extends object, S>(
  owner: string,
  options: NoInfer<O> & DecoupledDecayOptions,
  scaleKeys: readonly NoInfer<keyof O & string>[],
  defaults: { lr: ScalarOrSchedule; weightDecay: number },
  scale: (options?: O) => GradientTransformation<S>,
): GradientTransformation<ChainState> {
  checkKnownOptions(owner, options, ['lr', ...scaleKeys, 'weightDecay', 'mask']);
  const lr = checkScalarOrSchedule(owner, 'lr', options.lr ?? defaults.lr);
  const wd = checkNumber(owner, 'weightDecay', options.weightDecay ?? defaults.weightDecay, { min: 0 });
  const mask = checkMask(owner, 'mask', options.mask);
  const scaleOptions = {} as O;
  for (const key of scaleKeys) scaleOptions[key] = options[key];
  return chain(scale(scaleOptions), addDecayedWeights(wd, mask), scaleByLearningRate(lr));
}
