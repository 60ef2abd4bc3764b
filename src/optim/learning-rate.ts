/** Scaling by (minus) the learning rate, the last link of every alias chain. */
import { scaleInto } from '../kernels/passes.js';
import { evaluateSchedule } from './schedules.js';
import type { GradientTransformation, ScalarOrSchedule } from './transform.js';
import { checkBoolean, checkScalarOrSchedule, checkStateCount, checkStateObject } from './validate.js';

export interface CountState {
  /** Number of updates done so far; a schedule is evaluated at this count. */
  count: number;
}

/**
 * updates ← −lr·updates (or +lr with flipSign false). The count lives in state even for a constant lr,
 * so swapping a number for a schedule never changes the state's shape.
 */
export function scaleByLearningRate(
  lr: ScalarOrSchedule,
  flipSign = true,
): GradientTransformation<CountState> {
  const owner = 'scaleByLearningRate';
  const rate = checkScalarOrSchedule(owner, 'lr', lr);
  const sign = checkBoolean(owner, 'flipSign', flipSign) ? -1 : 1;
  // The factor of the step at `state.count`, and the next state.
  const factorAt = (state: CountState): [number, CountState] => {
    const count = checkStateCount(owner, checkStateObject(owner, state).count);
    const value = evaluateSchedule(owner, 'lr', rate, count);
    if (!(value >= 0)) throw new Error(`${owner}: lr must be >= 0, got ${value} at step ${count}`);
    return [sign * value, { count: count + 1 }];
  };
  return {
    freshUpdates: true,
    init() {
      return { count: 0 };
    },
    update(grads, state) {
      const [factor, next] = factorAt(state);
      const out = new Float32Array(grads.length);
      scaleInto(out, grads, factor);
      return [out, next];
    },
    updateInPlace(updates, state) {
      const [factor, next] = factorAt(state);
      scaleInto(updates, updates, factor);
      return next;
    },
  };
}
