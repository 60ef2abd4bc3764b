/**
 * The gate in front of the optimizer: each valid batch gets the next step number; an invalid one goes to
 * the error channel with its reason and never reaches a later stage, and the stream continues.
 */
import { type Observable, type OperatorFunction, type Subject, defer, filter, map } from 'rxjs';
import type { Batch } from '../data/batch.js';
import { BatchValidationError, type BatchSpec, validateBatch } from '../data/validate.js';
import type { BatchError, StepInput } from './step.js';

export function validate(
  spec: BatchSpec | undefined,
  errors: Subject<BatchError>,
  firstStep: () => number,
): OperatorFunction<Batch, StepInput> {
  return (source: Observable<Batch>) =>
    defer(() => {
      let step = firstStep();
      return source.pipe(
        map((batch): StepInput | null => {
          try {
            if (spec) validateBatch(batch, spec);
          } catch (e) {
            const reason = e instanceof BatchValidationError ? e.reason : 'invalid';
            const message = e instanceof Error ? e.message : String(e);
            errors.next({ step, reason, message, ...(batch?.id !== undefined ? { id: batch.id } : {}) });
            return null;
          }
          return { step: step++, batch };
        }),
        filter((s): s is StepInput => s !== null),
      );
    });
}
