/**
 * hessflow's side of the MLP Adam step that issue 8 and #23 compare (bench/suites/tfjs.ts against
 * TF.js and PyTorch, bench/cpu-speed.ts before and after kernel changes): an MLP 784-256-256-10
 * (tanh, softmax cross-entropy) at batch 128, float32, on fixed random data; one call = loss,
 * gradient, Adam update and parameter write, the work of one Trainer step.
 */
import { buildModel } from '../../src/nn/models/registry.js';
import { initialParams, lossFunction } from '../../src/nn/model.js';
import { adamw, applyUpdates } from '../../src/optim/index.js';
import { rng } from '../../src/random/counter-rng.js';
import { Tensor, valueAndGrad, withScratch } from '../../src/tensor/index.js';

export const MLP_SIZES = [784, 256, 256, 10] as const;
export const MLP_BATCH = 128;

/** A fresh model and optimizer state; each call of the result is one step, returning its loss. */
export function mlpAdamStep(): () => number {
  const model = buildModel({ kind: 'mlp', sizes: [...MLP_SIZES], activation: 'tanh' });
  const r = rng(1, 'bench-tfjs');
  const x = r.fillUniform(new Float32Array(MLP_BATCH * MLP_SIZES[0]));
  const y = Int32Array.from({ length: MLP_BATCH }, () => r.int(10));
  const f = lossFunction(model, { data: x, shape: [MLP_BATCH, MLP_SIZES[0]] }, y);
  const opt = adamw({ lr: 1e-3, weightDecay: 0 });
  let params = initialParams(model, 1) as Float32Array;
  let state = opt.init(params);
  return () => {
    // As a Trainer step: the passes in scratch memory, the gradient copied out.
    const [loss, g] = withScratch(() => {
      const [y, gy] = valueAndGrad(f)(new Tensor(params, [params.length]));
      return [y.item(), (gy.data as Float32Array).slice()] as const;
    });
    const [updates, next] = opt.update(g, state, params);
    params = applyUpdates(params, updates);
    state = next;
    return loss;
  };
}
