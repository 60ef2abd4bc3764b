/** Held-out evaluation: mean cross-entropy and accuracy over fixed batches, without recording gradients. */
import type { Batch } from '../data/batch.js';
import { crossEntropy } from '../tensor/functional.js';
import { noGrad } from '../tensor/graph.js';
import { withScratch } from '../tensor/scratch.js';
import { Tensor } from '../tensor/tensor.js';
import type { Model } from '../nn/model.js';
import type { EvalResult } from '../step/records.js';

export type { EvalResult } from '../step/records.js';

export function evaluate(model: Model, params: Float32Array, batches: readonly Batch[]): EvalResult {
  return noGrad(() => {
    const p = model.layout.unflatten(new Tensor(params, [params.length]));
    let lossSum = 0;
    let correct = 0;
    let count = 0;
    // Each batch's forward pass lives in scratch memory, reused by the next batch.
    for (const b of batches) {
      withScratch(() => {
        const logits = model.logits(p, { data: b.inputs, shape: b.inputShape });
        const targets = b.targets as Int32Array;
        const c = model.numClasses;
        const rows = logits.size / c;
        lossSum += crossEntropy(logits, targets).item() * rows;
        for (let i = 0; i < rows; i++) {
          let best = 0;
          for (let j = 1; j < c; j++) if (logits.data[i * c + j] > logits.data[i * c + best]) best = j;
          if (best === targets[i]) correct++;
        }
        count += rows;
      });
    }
    if (count === 0) throw new RangeError('evaluate: no predictions in the evaluation batches');
    return { loss: lossSum / count, accuracy: correct / count, predictions: count };
  });
}
