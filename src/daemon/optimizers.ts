/**
 * The daemon's optimizer: built by its catalog entry (src/catalog) for the daemon's model, wrapped by
 * `injectHyperparams` so numeric hyperparameters can be changed between steps without losing the
 * optimizer's moments. The daemon has no schedule (its rates are set at run time) and, as it always has,
 * applies weight decay to every parameter (no decay mask from the model's tags).
 */
import { optimizerEntry } from '../catalog/index.js';
import type { Model } from '../nn/model.js';
import { type InjectedState, injectHyperparams } from '../optim/inject.js';
import type { GradientTransformation } from '../optim/transform.js';
import { type DaemonOptimizerConfig, checkOptimizerSettings } from './config.js';

type Factory = (o: Record<string, unknown>) => GradientTransformation;

function factoryOf(name: string, model: Model): Factory {
  const entry = optimizerEntry(name);
  return (o) => {
    const { lr, ...hyper } = o as { lr: number } & Record<string, number | boolean | string>;
    return entry.build({ hyper, lr, lrFactor: () => 1, model });
  };
}

export function optimizerOf(
  config: DaemonOptimizerConfig,
  model: Model,
): {
  optimizer: GradientTransformation<InjectedState>;
  /**
   * Checks these hyperparameters over the configured ones with the config's own schema (one set of bounds
   * for daemon.json and POST /v1/hyperparams), then builds the factory: throws on a bad value.
   */
  check: (hyper: Record<string, number>) => void;
} {
  const { name, ...hyper } = config;
  const factory = factoryOf(name, model);
  return {
    optimizer: injectHyperparams(factory)(hyper),
    check: (h) => {
      checkOptimizerSettings({ name, ...hyper, ...h });
      factory({ ...hyper, ...h });
    },
  };
}
