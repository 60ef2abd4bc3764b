/**
 * Learning-rate schedules: pure functions of the step count (0 for the first update), with optax's
 * conventions so a user porting a config finds the same numbers.
 */
import type { Schedule } from './transform.js';
import { checkKnownOptions, checkNumber } from './validate.js';

export function constantSchedule(value: number): Schedule {
  const v = checkNumber('constantSchedule', 'value', value);
  return () => v;
}

export interface LinearScheduleOptions {
  init: number;
  end: number;
  transitionSteps: number;
  /** Steps to hold `init` before the transition starts (default 0). */
  transitionBegin?: number;
}

/** Linear interpolation from init to end over transitionSteps, then constant at end (optax.linear_schedule). */
export function linearSchedule(options: LinearScheduleOptions): Schedule {
  const owner = 'linearSchedule';
  checkKnownOptions(owner, options, ['init', 'end', 'transitionSteps', 'transitionBegin']);
  const init = checkNumber(owner, 'init', options.init);
  const end = checkNumber(owner, 'end', options.end);
  const steps = checkNumber(owner, 'transitionSteps', options.transitionSteps, { min: 1, integer: true });
  const begin = checkNumber(owner, 'transitionBegin', options.transitionBegin ?? 0, {
    min: 0,
    integer: true,
  });
  return (step) => {
    const t = Math.min(Math.max(step - begin, 0), steps);
    return (init - end) * (1 - t / steps) + end;
  };
}

export interface WarmupCosineScheduleOptions {
  /** Value at step 0 (default 0). */
  init?: number;
  peak: number;
  warmupSteps: number;
  /** Total length of warmup + cosine decay, as in optax (decay runs over decaySteps − warmupSteps). */
  decaySteps: number;
  /** Value after decaySteps (default 0). */
  endValue?: number;
  /** Power of the cosine factor (default 1). */
  exponent?: number;
}

/**
 * Linear warmup from init to peak over warmupSteps, then cosine decay to endValue at decaySteps, constant
 * after (optax.warmup_cosine_decay_schedule; the same shape as nanoGPT's/Sophia's get_lr with init 0).
 */
export function warmupCosineSchedule(options: WarmupCosineScheduleOptions): Schedule {
  const owner = 'warmupCosineSchedule';
  checkKnownOptions(owner, options, ['init', 'peak', 'warmupSteps', 'decaySteps', 'endValue', 'exponent']);
  const init = checkNumber(owner, 'init', options.init ?? 0);
  const peak = checkNumber(owner, 'peak', options.peak);
  const warmup = checkNumber(owner, 'warmupSteps', options.warmupSteps, { min: 0, integer: true });
  const total = checkNumber(owner, 'decaySteps', options.decaySteps, {
    min: warmup,
    minExclusive: true,
    integer: true,
  });
  const end = checkNumber(owner, 'endValue', options.endValue ?? 0);
  const exponent = checkNumber(owner, 'exponent', options.exponent ?? 1, { min: 0, minExclusive: true });
  const decay = total - warmup;
  return (step) => {
    if (step < warmup) return init + ((peak - init) * step) / warmup;
    const t = Math.min(step - warmup, decay);
    const cosine = 0.5 * (1 + Math.cos((Math.PI * t) / decay));
    return end + (peak - end) * cosine ** exponent;
  };
}

/** Evaluates a number-or-schedule at a step, refusing non-finite schedule values. */
export function evaluateSchedule(
  owner: string,
  name: string,
  value: number | Schedule,
  step: number,
): number {
  if (typeof value === 'number') return value;
  const v = value(step);
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Error(`${owner}: schedule for '${name}' returned ${String(v)} at step ${step}`);
  }
  return v;
}
