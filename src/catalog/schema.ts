/**
 * The zod schema of a run's `optimizer` section, made from the catalog: one strict object per entry with
 * `name`, a required `lr` and the entry's hyperparameters, all optional.
 */
import { z } from 'zod';
import { hyperparameter } from '../config/schemas.js';
import type { OptimizerEntry } from './entry.js';

function entrySchema(e: OptimizerEntry) {
  const shape: Record<string, z.ZodType> = { name: z.literal(e.name), lr: hyperparameter('lr') };
  for (const [key, spec] of Object.entries(e.hyperparameters)) shape[key] = spec.schema.optional();
  return z.strictObject(shape);
}

/** A discriminated union over the given entries (every catalog entry for a run config). */
export function optimizerSchemaOf(entries: readonly OptimizerEntry[]) {
  const [first, ...rest] = entries.map(entrySchema);
  return z.discriminatedUnion('name', [first, ...rest]);
}
