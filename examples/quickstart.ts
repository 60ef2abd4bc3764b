/**
 * The main job until the CLI lands: trains the MNIST MLP (784-256-256-10, tanh) with Sophia-G and
 * Gauss-Newton-Bartlett curvature refreshed every 10 steps, through the synchronous training loop, and
 * reports held-out accuracy. Run with `npm start` (STEPS=… to change the budget).
 */
import { batchAt, batchSpecOf, loadMnist } from '../src/data/index.js';
import { mlp } from '../src/nn/models/mlp.js';
import { sophiaG } from '../src/optim/index.js';
import { setFiniteChecks } from '../src/tensor/index.js';
import { Trainer } from '../src/train/train.js';

const steps = Number(process.env.STEPS ?? 1000);
if (!Number.isInteger(steps) || steps < 1)
  throw new RangeError(`STEPS must be a positive integer, got ${process.env.STEPS}`);

// The loop itself checks loss, gradient and update for non-finite values and skips such steps;
// per-op checks would only name the op, at a cost on every op.
setFiniteChecks(false);
const { train, test } = loadMnist();
const model = mlp({ kind: 'mlp', sizes: [784, 256, 256, 10], activation: 'tanh' });
const heldOut = [test.dataset.gather(Int32Array.from({ length: test.dataset.size }, (_, i) => i))];
const trainer = new Trainer({
  model,
  optimizer: sophiaG({ lr: 1e-3, rho: 0.04, weightDecay: 0 }),
  curvature: { estimator: 'gnb', every: 10 },
  batchAt: (k) => batchAt(train.dataset, { batchSize: 128, seed: 1 }, k),
  batchSpec: batchSpecOf(train.dataset),
  steps,
  seed: 1,
  evaluation: { every: 100, batches: heldOut },
});

console.log(`hessflow quickstart: MNIST MLP (${model.layout.size} parameters), Sophia-G, ${steps} steps`);
const started = performance.now();
for (const m of trainer) {
  if (m.eval) {
    const rate = ((m.step + 1) * 128) / ((performance.now() - started) / 1000);
    console.log(
      `step ${String(m.step + 1).padStart(5)}  loss ${m.loss.toFixed(4)}  win-rate ${(m.winRate ?? 0).toFixed(3)}  ` +
        `held-out loss ${m.eval.loss.toFixed(4)}  accuracy ${(100 * m.eval.accuracy).toFixed(2)}%  ${rate.toFixed(0)} samples/s`,
    );
  }
}
const s = trainer.state();
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s; ${s.skipped} steps skipped`);
