/** Shared pieces of the marble tests (a helper, not a test file). */
import { TestScheduler } from 'rxjs/testing';
import type { Batch } from '../../src/data/batch.js';
import type { Test } from 'tap';

export function scheduler(t: Test): TestScheduler {
  return new TestScheduler((actual, expected) => t.same(actual, expected));
}

/** A tiny valid batch (2 samples, 2 features, labels in [0, 2)) tagged with `id`. */
export function tinyBatch(id: number): Batch {
  return {
    inputs: new Float32Array([id, 1, 2, 3]),
    inputShape: [2, 2],
    targets: new Int32Array([0, 1]),
    targetShape: [2],
    id,
  };
}

export const tinySpec = {
  inputKind: 'float',
  featureShape: [2],
  targetKind: 'int',
  targetShape: [],
  numClasses: 2,
} as const;
