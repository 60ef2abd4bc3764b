/**
 * The daemon's optimizers by config name, each wrapped by `injectHyperparams` so hyperparameters can be
 * changed between steps without losing the optimizer's moments.
 */
import { adamw } from '../optim/adam.js';
import { type InjectedState, injectHyperparams } from '../optim/inject.js';
import { sgd } from '../optim/sgd.js';
import { sophiaG } from '../optim/sophia-g.js';
import type { GradientTransformation } from '../optim/transform.js';
import { type DaemonOptimizerConfig, checkOptimizerSettings } from './config.js';

type Factory = (o: Record<string, unknown>) => GradientTransformation;

const FACTORIES: Record<string, Factory> = {
  sophiaG: sophiaG as Factory,
  adamw: adamw as Factory,
  sgd: sgd as Factory,
};

export function optimizerOf(config: DaemonOptimizerConfig): {
  optimizer: GradientTransformation<InjectedState>;
  /**
   * Checks these hyperparameters over the configured ones with the config's own schema (one set of bounds
   * for daemon.json and POST /v1/hyperparams), then builds the factory: throws on a bad value.
   */
  check: (hyper: Record<string, number>) => void;
} {
  const { name, ...hyper } = config;
  const factory = FACTORIES[name];
  if (!factory) throw new RangeError(`daemon: unknown optimizer "${name}"`);
  return {
    optimizer: injectHyperparams(factory)(hyper),
    check: (h) => {
      checkOptimizerSettings({ name, ...hyper, ...h });
      factory({ ...hyper, ...h });
    },
  };
}
