/**
 * hessflow's side of the MLP Adam step that issue 8 and #23 compare (bench/suites/tfjs.ts against
 * TF.js and PyTorch, bench/cpu-speed.ts before and after kernel changes): an MLP 784-256-256-10
 * (tanh, softmax cross-entropy) at batch 128, float32, on fixed random data; one call is one
 * `Trainer.step()` — loss, gradient, Adam update and parameter write, with the step rule's finite
 * checks and metrics — as `hessflow train` runs it.
 */
import type { Batch } from '../../src/data/batch.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { adamw } from '../../src/optim/index.js';
import { rng } from '../../src/random/counter-rng.js';
import { Trainer } from '../../src/train/train.js';

export const MLP_SIZES = [784, 256, 256, 10] as const;
export const MLP_BATCH = 128;

/** A fresh model and optimizer state; each call of the result is one step, returning its loss. */
export function mlpAdamStep(): () => number {
  const model = buildModel({ kind: 'mlp', sizes: [...MLP_SIZES], activation: 'tanh' });
  const r = rng(1, 'bench-tfjs');
  const batch: Batch = {
    inputs: r.fillUniform(new Float32Array(MLP_BATCH * MLP_SIZES[0])),
    inputShape: [MLP_BATCH, MLP_SIZES[0]],
    targets: Int32Array.from({ length: MLP_BATCH }, () => r.int(10)),
    targetShape: [MLP_BATCH],
  };
  const trainer = new Trainer({
    model,
    optimizer: adamw({ lr: 1e-3, weightDecay: 0 }),
    batchAt: () => batch,
    steps: Number.MAX_SAFE_INTEGER,
    seed: 1,
  });
  return () => trainer.step().loss;
}
