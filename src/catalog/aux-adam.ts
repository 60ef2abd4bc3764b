/**
 * The auxiliary AdamW's hyperparameters (optim/aux-adam.ts), shared by the entries that split a model
 * MuonWithAuxAdam-style: Muon, and SOAP-Sophia when `adamLr` is set.
 */
import { z } from 'zod';
import { unitInterval } from '../config/schemas.js';
import type { ScalarOrSchedule } from '../optim/transform.js';
import type { HyperSpec } from './entry.js';
import { num, numberOf, rule } from './hyper.js';

/** adamLr … adamWeightDecay; `adamLrDoc` says what happens without adamLr. */
export function auxAdamHyperparameters(adamLrDoc: string): Record<string, HyperSpec> {
  return {
    adamLr: rule(
      z.number().positive(),
      `the auxiliary AdamW's peak learning rate (${adamLrDoc}); follows lr's schedule`,
    ),
    adamB1: rule(unitInterval(), "the auxiliary AdamW's β1 (default 0.9)"),
    adamB2: rule(unitInterval(), "the auxiliary AdamW's β2 (default 0.95)"),
    adamEps: rule(z.number().positive(), "the auxiliary AdamW's ε (default 1e-10)"),
    adamWeightDecay: num('adamWeightDecay', "the auxiliary AdamW's decoupled decay (default 0)"),
  };
}

/**
 * The configured adamLr as the optimizer takes it: a number without a schedule, else the same schedule
 * shape as lr's peaking at it (the official training scripts scale every group alike); undefined when unset.
 */
export function auxAdamLr(
  hyper: Record<string, unknown>,
  lr: ScalarOrSchedule,
  lrFactor: (step: number) => number,
): ScalarOrSchedule | undefined {
  const peak = numberOf(hyper, 'adamLr');
  if (peak === undefined) return undefined;
  return typeof lr === 'number' ? peak : (s: number) => peak * lrFactor(s);
}
