/**
 * zod building blocks shared by the run, daemon and pipeline configs: integers, optimizer
 * hyperparameters and the curvature schedule, so the three accept the same values and say the same thing
 * about a bad one.
 */
import { z } from 'zod';
import { expecting } from './zod-errors.js';

/**
 * A finite number that must be an integer. zod's own `z.int()` stops the whole parse at a fraction (an
 * explicit abort), which would hide cross-field problems; this check lets the parse go on.
 */
export function int(min?: number, max?: number): z.ZodNumber {
  let s = z.number().check((payload) => {
    if (!Number.isInteger(payload.value))
      payload.issues.push({ code: 'invalid_type', expected: 'int', input: payload.value, continue: true });
  });
  if (min !== undefined) s = s.min(min);
  if (max !== undefined) s = s.max(max);
  return s;
}

/** A number in [0, 1): a decay rate or momentum. */
export const unitInterval = (): z.ZodNumber => expecting(z.number().min(0).lt(1), 'a number in [0, 1)');

/**
 * The rule for one optimizer hyperparameter, by name: the learning rate, ε and Sophia-H's γ and clip
 * threshold are > 0, decay rates and momentum lie in [0, 1), AdaHessian's Hessian power in [0, 1], its
 * block length is -1 (whole row) or positive, Sophia-G's win-rate target in (0, 1); anything else (ρ, weight decay) is >= 0.
 */
export function hyperparameter(name: string): z.ZodType<number> {
  switch (name) {
    case 'lr':
    case 'eps':
    case 'gamma':
    case 'clipThreshold':
      return z.number().positive();
    case 'b1':
    case 'b2':
    case 'momentum':
      return unitInterval();
    case 'winRateTarget':
      return expecting(z.number().gt(0).lt(1), 'a number in (0, 1)');
    case 'hessianPower':
      return expecting(z.number().min(0).max(1), 'a number in [0, 1]');
    case 'blockLength':
      return expecting(
        int(-1).refine((b) => b !== 0),
        '-1 (whole row) or a positive integer',
      );
    default:
      return z.number().min(0);
  }
}

/** When curvature estimates are launched and applied; see step/curvature-schedule.ts. */
export const curvatureSchema = z.strictObject({
  estimator: z.enum(['gnb', 'hutchinson', 'hvp-pair', 'gnb-gradient']),
  every: int(1).optional(),
  first: int(0).optional(),
  staleness: int(0).optional(),
  probes: int(1).optional(),
});

/**
 * Where curvature probes run (src/gpu/host/backend.ts): "cpu" (the default; results bit-identical to the
 * reference loop), "webgpu", "webasm" (gpu.js's WebAssembly kernels), or "auto" (a real GPU when one
 * answers, else the CPU).
 */
export const gpuSchema = z.enum(['auto', 'webgpu', 'webasm', 'cpu']);
