/**
 * Hyperparameter changes for a streaming engine. The pipeline owns the optimizer state and applies steps
 * on its coordinator, so the engine cannot swap the state between steps as `TrainerEngine` does. Instead
 * the optimizer handed to the pipeline is wrapped: every `update` first writes the values set at run time
 * into the injected state (`setHyperparam`, idempotent), so a change applies from the next step the
 * coordinator applies, and the moments carry over untouched. The same overlay is laid on snapshots, so a
 * checkpoint taken before that next step already holds the new values.
 */
import { type InjectedState, setHyperparam } from '../optim/inject.js';
import type { GradientTransformation } from '../optim/transform.js';
import { IngestError } from './errors.js';

export class HyperparamOverlay {
  private readonly values: Record<string, number> = {};

  constructor(
    private readonly inner: GradientTransformation<InjectedState>,
    /** Builds the optimizer from the given hyperparameters: it throws on a value out of range. */
    private readonly check: (hyper: Record<string, number>) => void,
  ) {}

  /** The state with the run-time values written in. */
  apply(state: InjectedState): InjectedState {
    let s = state;
    for (const [name, value] of Object.entries(this.values)) s = setHyperparam(s, name, value);
    return s;
  }

  /** The optimizer to give the pipeline. No updateInPlace: `update` has the same arithmetic. */
  optimizer(): GradientTransformation<InjectedState> {
    return {
      init: (params, layout) => this.inner.init(params, layout),
      update: (grads, state, params, extra) => this.inner.update(grads, this.apply(state), params, extra),
    };
  }

  /**
   * Validates `values` against the current state and records them; the same checks and IngestErrors as
   * `TrainerEngine.setHyperparams`. Returns every hyperparameter's value from the next step on.
   */
  set(values: Record<string, unknown>, state: InjectedState, params: Float32Array): Record<string, number> {
    const opt = withHyperparams(this.inner, this.check, this.apply(state), params, values);
    for (const name of Object.keys(values)) this.values[name] = opt.hyperparams[name];
    return { ...opt.hyperparams };
  }
}

/**
 * `state` with `values` set (every engine's `setHyperparams` check): an IngestError for no values, an
 * unknown name or a non-number; a value out of range fails here, not mid-step — `check` builds the
 * optimizer from the new values (the factory checks ranges) and a dry-run update (optimizers are pure)
 * catches values the current state cannot take.
 */
export function withHyperparams(
  optimizer: GradientTransformation<InjectedState>,
  check: (hyper: Record<string, number>) => void,
  state: InjectedState,
  params: Float32Array,
  values: Record<string, unknown>,
): InjectedState {
  let opt = state;
  const entries = Object.entries(values);
  if (entries.length === 0) throw new IngestError('empty_update', 'no hyperparameters given');
  for (const [name, value] of entries) {
    if (!Object.prototype.hasOwnProperty.call(opt.hyperparams, name)) {
      throw new IngestError(
        'unknown_hyperparameter',
        `unknown hyperparameter "${name}" (settable: ${Object.keys(opt.hyperparams).join(', ')})`,
      );
    }
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new IngestError('bad_value', `hyperparameter "${name}" must be a finite number`);
    opt = setHyperparam(opt, name, value);
  }
  try {
    check(opt.hyperparams);
    optimizer.update(new Float32Array(params.length), opt, params, { batchSize: 1, loss: 0 });
  } catch (e) {
    throw new IngestError('bad_value', (e as Error).message);
  }
  return opt;
}
