/**
 * Option and input validation shared by every transformation. Errors name the transformation, the option
 * and the offending value, because a daemon user changing a hyperparameter needs to see which one was wrong.
 */
import type { CoordinateMask, ScalarOrSchedule } from './transform.js';

export interface RangeSpec {
  min?: number;
  max?: number;
  /** Exclusive lower bound (default inclusive). */
  minExclusive?: boolean;
  /** Exclusive upper bound (default inclusive). */
  maxExclusive?: boolean;
  integer?: boolean;
}

function describeRange(spec: RangeSpec): string {
  const lo = spec.min === undefined ? '(-inf' : `${spec.minExclusive ? '(' : '['}${spec.min}`;
  const hi = spec.max === undefined ? 'inf)' : `${spec.max}${spec.maxExclusive ? ')' : ']'}`;
  return `${spec.integer ? 'an integer' : 'a finite number'} in ${lo}, ${hi}`;
}

/** Validates a numeric option and returns it. */
export function checkNumber(owner: string, name: string, value: unknown, spec: RangeSpec = {}): number {
  const bad = (): never => {
    throw new Error(`${owner}: option '${name}' must be ${describeRange(spec)}, got ${String(value)}`);
  };
  if (typeof value !== 'number' || !Number.isFinite(value)) return bad();
  const v = value as number;
  if (spec.integer && !Number.isInteger(v)) bad();
  if (spec.min !== undefined && (spec.minExclusive ? !(v > spec.min) : !(v >= spec.min))) bad();
  if (spec.max !== undefined && (spec.maxExclusive ? !(v < spec.max) : !(v <= spec.max))) bad();
  return v;
}

export function checkBoolean(owner: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new Error(`${owner}: option '${name}' must be a boolean, got ${String(value)}`);
  return value;
}

/** A learning rate is a non-negative number or a schedule; schedule values are checked when used. */
export function checkScalarOrSchedule(owner: string, name: string, value: unknown): ScalarOrSchedule {
  if (typeof value === 'function') return value as ScalarOrSchedule;
  return checkNumber(owner, name, value, { min: 0 });
}

export function checkMask(owner: string, name: string, value: unknown): CoordinateMask | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Uint8Array || typeof value === 'function') return value as CoordinateMask;
  throw new Error(`${owner}: option '${name}' must be a Uint8Array or a function (params) => Uint8Array`);
}

/** Rejects misspelt options, which would otherwise silently fall back to a default. */
export function checkKnownOptions(owner: string, options: object, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') {
    throw new Error(`${owner}: options must be an object, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Error(`${owner}: unknown option '${key}' (known options: ${known.join(', ')})`);
    }
  }
}

/** Checks that an input vector has the length the state was built for. */
export function checkLength(
  owner: string,
  what: string,
  actual: ArrayLike<number>,
  expected: number,
  against = 'state',
): void {
  if (actual.length !== expected) {
    throw new Error(`${owner}: ${what} length ${actual.length} does not match ${against} length ${expected}`);
  }
}

/** Checks the state handed back in is the kind this transformation produced (and of the right size). */
export function checkStateVector(
  owner: string,
  name: string,
  value: unknown,
  expected?: number,
): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new Error(`${owner}: state.${name} must be a Float32Array (was this state produced by ${owner}?)`);
  }
  if (expected !== undefined && value.length !== expected) {
    throw new Error(`${owner}: state.${name} has length ${value.length}, expected ${expected}`);
  }
  return value;
}

export function checkStateObject(owner: string, state: unknown): Record<string, unknown> {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) {
    throw new Error(`${owner}: state must be an object produced by ${owner}.init, got ${String(state)}`);
  }
  return state as Record<string, unknown>;
}

export function checkStateCount(owner: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(`${owner}: state.count must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/** Params are required by some transformations (weight decay, M-FAC's decayed gradient). */
export function requireParams(
  owner: string,
  params: Float32Array | undefined,
  gradLength: number,
): Float32Array {
  if (params === undefined) throw new Error(`${owner}: params are required by this transformation`);
  if (params.length !== gradLength) {
    throw new Error(`${owner}: gradient length ${gradLength} does not match params length ${params.length}`);
  }
  return params;
}
