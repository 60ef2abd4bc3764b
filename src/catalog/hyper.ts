/** Shorthands for the entries' hyperparameter tables, on the shared rules of config/schemas.ts. */
import { z } from 'zod';
import { hyperparameter, int } from '../config/schemas.js';
import type { HyperSpec } from './entry.js';

/** A numeric hyperparameter checked by its name's rule (lr, eps > 0; betas in [0, 1); …). */
export const num = (name: string, doc: string): HyperSpec => ({
  schema: hyperparameter(name),
  doc,
  type: 'number',
});

/** A hyperparameter with its own rule (a number unless said otherwise). */
export const rule = (schema: z.ZodType, doc: string, type: HyperSpec['type'] = 'number'): HyperSpec => ({
  schema,
  doc,
  type,
});

export const bool = (doc: string): HyperSpec => ({ schema: z.boolean(), doc, type: 'boolean' });

/** An integer ≥ min. */
export const integer = (min: number, doc: string): HyperSpec => ({ schema: int(min), doc, type: 'number' });

/** The decoupled weight decay most entries take. */
export const weightDecay = (dflt: number): HyperSpec =>
  num('weightDecay', `decoupled weight decay: θ ← θ·(1 − lr·wd) (default ${dflt})`);

/** Reads a number from a build context's hyperparameters (undefined when not configured). */
export function numberOf(hyper: Record<string, unknown>, key: string): number | undefined {
  const v = hyper[key];
  return typeof v === 'number' ? v : undefined;
}
