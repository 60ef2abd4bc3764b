/**
 * injectHyperparams (optax.inject_hyperparams): lifts numeric hyperparameters of a transformation factory
 * into its state, so a daemon can change a learning rate between steps without rebuilding the optimizer
 * or losing its moments. Schedules are evaluated at the step count and their current value is recorded in
 * state too (read-only: the schedule owns it). Non-numeric options (masks, block tables, booleans) stay fixed.
 */
import { evaluateSchedule } from './schedules.js';
import type { GradientTransformation, Schedule } from './transform.js';
import { checkStateCount, checkStateObject } from './validate.js';

export interface InjectedState {
  /** Updates done so far; schedules are evaluated at this count. */
  count: number;
  /** Current value of every injected hyperparameter. */
  hyperparams: Record<string, number>;
  /** Names in `hyperparams` that a schedule drives. */
  scheduled: string[];
  /** State of the wrapped transformation. */
  inner: unknown;
}

export interface InjectOptions {
  /**
   * Options never lifted into state even if numeric or functions (function-valued options that are not
   * schedules, e.g. a mask function, or numbers that fix the state's shape such as M-FAC's window m).
   * Default: ['mask', 'blocks'].
   */
  staticArgs?: readonly string[];
}

const OWNER = 'injectHyperparams';

export function injectHyperparams<O extends object>(
  factory: (options: O) => GradientTransformation,
  injectOptions: InjectOptions = {},
): (hyperparams: O) => GradientTransformation<InjectedState> {
  if (typeof factory !== 'function') throw new Error(`${OWNER}: factory must be a function`);
  const staticArgs = new Set(injectOptions.staticArgs ?? ['mask', 'blocks']);
  return (hyperparams) => {
    if (hyperparams === null || typeof hyperparams !== 'object') {
      throw new Error(`${OWNER}: hyperparams must be an options object, got ${String(hyperparams)}`);
    }
    const fixed: Record<string, unknown> = {};
    const numeric: Record<string, number> = {};
    const schedules: Record<string, Schedule> = {};
    for (const [key, value] of Object.entries(hyperparams)) {
      if (staticArgs.has(key)) fixed[key] = value;
      else if (typeof value === 'number') numeric[key] = value;
      else if (typeof value === 'function') schedules[key] = value as Schedule;
      else fixed[key] = value;
    }
    const names = [...Object.keys(numeric), ...Object.keys(schedules)];
    const scheduled = Object.keys(schedules);

    const valuesAt = (base: Record<string, number>, count: number): Record<string, number> => {
      const values = { ...base };
      for (const name of scheduled) values[name] = evaluateSchedule(OWNER, name, schedules[name], count);
      return values;
    };

    // Rebuilding is cheap (factories only validate and close over numbers), but reuse the last build
    // while the values are unchanged, which is the common case.
    let lastValues: Record<string, number> | null = null;
    let lastBuilt: GradientTransformation | null = null;
    const build = (values: Record<string, number>): GradientTransformation => {
      if (
        lastValues !== null &&
        lastBuilt !== null &&
        names.every((n) => Object.is(lastValues![n], values[n]))
      ) {
        return lastBuilt;
      }
      const built = factory({ ...fixed, ...values } as O);
      lastValues = values;
      lastBuilt = built;
      return built;
    };

    // Build once now so bad options fail at construction, as they do without the wrapper. Every build
    // comes from the same factory, so the first one tells whether updates are fresh arrays.
    const first = build(valuesAt(numeric, 0));

    return {
      freshUpdates: first.freshUpdates === true,
      init(params, layout) {
        const values = valuesAt(numeric, 0);
        return {
          count: 0,
          hyperparams: values,
          scheduled: [...scheduled],
          inner: build(values).init(params, layout),
        };
      },
      update(grads, state, params, extra) {
        const s = checkInjectedState(state);
        const count = checkStateCount(OWNER, s.count);
        for (const name of names) {
          if (typeof s.hyperparams[name] !== 'number') {
            throw new Error(
              `${OWNER}: state.hyperparams lacks '${name}' (was this state produced by this optimizer?)`,
            );
          }
        }
        const values = valuesAt(s.hyperparams, count);
        const [updates, inner] = build(values).update(grads, s.inner, params, extra);
        return [updates, { count: count + 1, hyperparams: values, scheduled: [...scheduled], inner }];
      },
    };
  };
}

function checkInjectedState(state: unknown): InjectedState {
  const s = checkStateObject(OWNER, state);
  const hp = s.hyperparams;
  if (hp === null || typeof hp !== 'object' || Array.isArray(hp) || !Array.isArray(s.scheduled)) {
    throw new Error(`${OWNER}: state is not an injectHyperparams state (missing hyperparams/scheduled)`);
  }
  return s as unknown as InjectedState;
}

/**
 * Returns a new state with hyperparameter `name` set to `value`; the next update uses it. Range checks of
 * the value happen in the wrapped factory at that update (it throws naming the option).
 */
export function setHyperparam(state: InjectedState, name: string, value: number): InjectedState {
  const s = checkInjectedState(state);
  if (!Object.prototype.hasOwnProperty.call(s.hyperparams, name)) {
    const known = Object.keys(s.hyperparams);
    throw new Error(
      `setHyperparam: unknown hyperparameter '${name}' (injected: ${known.length ? known.join(', ') : 'none'})`,
    );
  }
  if (s.scheduled.includes(name)) {
    throw new Error(`setHyperparam: hyperparameter '${name}' is driven by a schedule and cannot be set`);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`setHyperparam: value for '${name}' must be a finite number, got ${String(value)}`);
  }
  return { ...s, hyperparams: { ...s.hyperparams, [name]: value } };
}
