/**
 * PSGD-Kron's options: their defaults (which follow kron_torch in whitening mode and psgd_torch's
 * KronNewton in Hessian mode) and their validation, errors naming the option; and kron_torch's
 * update-probability schedule.
 */
import type { MemorySave } from './psgd-factors.js';
import type { ScalarOrSchedule, Schedule } from './transform.js';
import { checkKnownOptions, checkNumber } from './validate.js';

export type PsgdMode = 'whitening' | 'hessian';

export interface ScaleByPsgdKronOptions {
  /** 'whitening' (default, kron_torch) or 'hessian' (needs `extra.hessianPair`). */
  mode?: PsgdMode;
  /** Momentum β (default 0.9 whitening as kron_torch, 0 hessian as psgd_torch's KronNewton). */
  b1?: number;
  /** Step size of the preconditioner fit (default 0.1, both references). */
  precondLr?: number;
  /** Q starts as this·I. Default 1 (kron_torch) in whitening mode; in hessian mode psgd_torch's
   * on-the-fly scale from the first pair, (mean v²)^¼·(max_tensor mean h⁴)^(−⅛). */
  precondInitScale?: number;
  /** Whitening mode: probability (or schedule of the step) of refitting P; default kron_torch's. */
  updateProbability?: ScalarOrSchedule;
  /** Dimensions larger than this get a diagonal factor (default 8192, kron_torch's max_size_triangular). */
  maxSize?: number;
  /** kron_torch's memory_save_mode: which dimensions get a diagonal factor regardless of size. */
  memorySave?: MemorySave;
  /** EMA factor of the Lipschitz normaliser (default 0 whitening = kron_torch, 0.9 hessian = psgd_torch). */
  lipschitzBeta?: number;
  /** Per-tensor RMS cap of the preconditioned direction (default 1.1 whitening, Infinity hessian). */
  clipUpdateRms?: number;
  /** Hessian mode: h ← h + (damping + eps·|h|)·n, n ~ N(0, 1), as psgd_torch (default 1e-9). */
  damping?: number;
  /** Seed of the counter-based draws (whitening noise, damping noise, balancing). Default 0. */
  seed?: number;
}

export const OWNER = 'psgdKron';
export const KEYS = [
  'mode',
  'b1',
  'precondLr',
  'precondInitScale',
  'updateProbability',
  'maxSize',
  'memorySave',
  'lipschitzBeta',
  'clipUpdateRms',
  'damping',
  'seed',
] as const;

/** kron_torch's `precond_update_prob_schedule`: clamp(max·exp(−decay·(t − flat)), min, max). */
export function precondUpdateProbSchedule(
  maxProb = 1,
  minProb = 0.03,
  decay = 0.001,
  flatStart = 500,
): Schedule {
  // float32 as kron_torch's torch tensors, so the counter flips on the same steps.
  return (t) => {
    const p = Math.fround(maxProb * Math.fround(Math.exp(Math.fround(-decay * (t - flatStart)))));
    return Math.min(Math.max(p, Math.fround(minProb)), Math.fround(maxProb));
  };
}

/** The options with their defaults filled in and checked. */
export interface ResolvedPsgdOptions {
  whiten: boolean;
  b1: number;
  precondLr: number;
  /** undefined: psgd_torch's on-the-fly scale from the first pair (Hessian mode). */
  init: number | undefined;
  prob: ScalarOrSchedule;
  maxSize: number;
  save: MemorySave;
  beta: number;
  clip: number;
  damping: number;
  seed: number;
}

export function resolvePsgdOptions(options: ScaleByPsgdKronOptions): ResolvedPsgdOptions {
  checkKnownOptions(OWNER, options, KEYS);
  const mode = options.mode ?? 'whitening';
  if (mode !== 'whitening' && mode !== 'hessian')
    throw new Error(`${OWNER}: option 'mode' must be 'whitening' or 'hessian', got ${String(mode)}`);
  const whiten = mode === 'whitening';
  const b1 = checkNumber(OWNER, 'b1', options.b1 ?? (whiten ? 0.9 : 0), {
    min: 0,
    max: 1,
    maxExclusive: true,
  });
  const precondLr = checkNumber(OWNER, 'precondLr', options.precondLr ?? 0.1, { min: 0, minExclusive: true });
  const init =
    options.precondInitScale === undefined
      ? undefined
      : checkNumber(OWNER, 'precondInitScale', options.precondInitScale, { min: 0, minExclusive: true });
  const prob = options.updateProbability ?? precondUpdateProbSchedule();
  if (typeof prob !== 'function')
    checkNumber(OWNER, 'updateProbability', prob, { min: 0, max: 1, minExclusive: true });
  const maxSize = checkNumber(OWNER, 'maxSize', options.maxSize ?? 8192, { min: 1, integer: true });
  const save = options.memorySave ?? 'none';
  if (!['none', 'smartOneDiag', 'oneDiag', 'allDiag'].includes(save))
    throw new Error(
      `${OWNER}: option 'memorySave' must be 'none', 'smartOneDiag', 'oneDiag' or 'allDiag', got ${String(save)}`,
    );
  const beta = checkNumber(OWNER, 'lipschitzBeta', options.lipschitzBeta ?? (whiten ? 0 : 0.9), {
    min: 0,
    max: 1,
    maxExclusive: true,
  });
  const clip = options.clipUpdateRms ?? (whiten ? 1.1 : Infinity);
  if (clip !== Infinity) checkNumber(OWNER, 'clipUpdateRms', clip, { min: 0, minExclusive: true });
  const damping = checkNumber(OWNER, 'damping', options.damping ?? 1e-9, { min: 0 });
  const seed = checkNumber(OWNER, 'seed', options.seed ?? 0, { integer: true });

  return { whiten, b1, precondLr, init, prob, maxSize, save, beta, clip, damping, seed };
}
