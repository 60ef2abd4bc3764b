/**
 * The main job until the CLI lands: trains the model of config/quickstart.json (the MNIST MLP
 * 784-256-256-10 with Sophia-G and Gauss-Newton-Bartlett curvature every 10 steps) through the
 * synchronous training loop and reports held-out accuracy. Run with `npm start` (STEPS=… overrides
 * the step budget, CONFIG=… the config file).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { batchAt, batchSpecOf, loadMnist } from '../src/data/index.js';
import type { ModelSpec } from '../src/nn/model.js';
import { buildModel } from '../src/nn/models/registry.js';
import { adamw, sophiaG } from '../src/optim/index.js';
import { setFiniteChecks } from '../src/tensor/index.js';
import type { CurvatureConfig } from '../src/train/curvature-schedule.js';
import { Trainer } from '../src/train/train.js';

interface QuickstartConfig {
  model: ModelSpec;
  optimizer: { name: string; lr: number; rho?: number; weightDecay?: number };
  curvature?: CurvatureConfig;
  batchSize: number;
  steps: number;
  evalEvery: number;
  seed: number;
}

const KEYS = ['model', 'optimizer', 'curvature', 'batchSize', 'steps', 'evalEvery', 'seed'];
const path = process.env.CONFIG || fileURLToPath(new URL('../../config/quickstart.json', import.meta.url));
const config = JSON.parse(readFileSync(path, 'utf8')) as QuickstartConfig;
const unknown = Object.keys(config).filter((k) => !KEYS.includes(k));
if (unknown.length > 0)
  throw new Error(`${path}: unknown key(s) ${unknown.join(', ')}; allowed: ${KEYS.join(', ')}`);
const steps = Number(process.env.STEPS || config.steps);
if (!Number.isInteger(steps) || steps < 1)
  throw new RangeError(`steps must be a positive integer, got ${steps}`);
const { name, ...hyper } = config.optimizer;
if (name !== 'sophiaG' && name !== 'adamw') {
  throw new RangeError(`${path}: optimizer.name must be "sophiaG" or "adamw", got ${JSON.stringify(name)}`);
}

// The loop itself checks loss, gradient and update for non-finite values and skips such steps;
// per-op checks would only name the op, at a cost on every op.
setFiniteChecks(false);
const { train, test } = loadMnist();
const model = buildModel(config.model);
const heldOut = [test.dataset.gather(Int32Array.from({ length: test.dataset.size }, (_, i) => i))];
const trainer = new Trainer({
  model,
  optimizer: name === 'sophiaG' ? sophiaG(hyper) : adamw(hyper),
  curvature: config.curvature,
  batchAt: (k) => batchAt(train.dataset, { batchSize: config.batchSize, seed: config.seed }, k),
  batchSpec: batchSpecOf(train.dataset),
  steps,
  seed: config.seed,
  evaluation: { every: config.evalEvery, batches: heldOut },
});

console.log(
  `hessflow quickstart: MNIST ${model.spec.kind} (${model.layout.size} parameters), ${name}, ${steps} steps`,
);
const started = performance.now();
for (const m of trainer) {
  if (m.eval) {
    const rate = ((m.step + 1) * config.batchSize) / ((performance.now() - started) / 1000);
    console.log(
      `step ${String(m.step + 1).padStart(5)}  loss ${m.loss.toFixed(4)}  win-rate ${(m.winRate ?? 0).toFixed(3)}  ` +
        `held-out loss ${m.eval.loss.toFixed(4)}  accuracy ${(100 * m.eval.accuracy).toFixed(2)}%  ${rate.toFixed(0)} samples/s`,
    );
  }
}
const s = trainer.state();
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s; ${s.skipped} steps skipped`);
