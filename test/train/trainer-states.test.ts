// The Trainer steps a state nobody holds in place and recycles what it replaces (array-pool.ts);
// a state it handed out stays the value it was. What a fault or a late reader does to the data.
import t from 'tap';
import { batchAt, softmaxRegressionData } from '../../src/data/index.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { adamw, sophiaG } from '../../src/optim/index.js';
import { carriedState } from '../../src/step/event.js';
import { Trainer, type TrainState } from '../../src/train/train.js';

const data = softmaxRegressionData({ samples: 256, features: 8, classes: 3, seed: 1 });
const model = buildModel({ kind: 'mlp', sizes: [8, 6, 3], activation: 'tanh' });
const batchOf = (k: number) => batchAt(data.dataset, { batchSize: 32, seed: 2 }, k);
const config = () => ({
  model,
  optimizer: sophiaG({ lr: 0.02, rho: 0.05 }),
  curvature: { estimator: 'gnb' as const, every: 3, staleness: 1 },
  batchAt: batchOf,
  steps: 30,
  seed: 4,
});

/** Every Float32Array of a state, copied: what it held when taken. */
function bytesOf(s: Pick<TrainState, 'params' | 'optState'>): Buffer[] {
  const out: Buffer[] = [Buffer.from(s.params.slice().buffer)];
  const walk = (v: unknown): void => {
    if (v instanceof Float32Array) out.push(Buffer.from(v.slice().buffer));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) Object.values(v).forEach(walk);
  };
  walk(s.optState);
  return out;
}

t.test('stepping in place gives the same bits as stepping copies', async (t) => {
  const quiet = new Trainer(config()); // nobody reads a state until the end: steps in place
  for (const _ of quiet) void _;
  const watched = new Trainer(config()); // every state read: every step works on a copy
  for (;;) {
    watched.state();
    if (watched.done()) break;
    watched.step();
  }
  t.same(bytesOf(quiet.state()), bytesOf(watched.state()));
  t.equal(quiet.state().step, 30);
});

t.test('a state handed out keeps its values while training goes on', async (t) => {
  const trainer = new Trainer(config());
  for (let i = 0; i < 5; i++) trainer.step();
  const kept = trainer.state();
  const before = bytesOf(kept);
  const m = trainer.step();
  const afterStep = carriedState(m)!(); // a sink reads the state right after the step
  const afterBytes = bytesOf(afterStep);
  for (let i = 0; i < 6; i++) trainer.step();
  t.same(bytesOf(kept), before, 'state() taken at step 5');
  t.same(bytesOf(afterStep), afterBytes, 'the state a sink read after step 5');
  t.equal(kept.step, 5);
  t.equal(afterStep.step, 6);
});

t.test('a sink reading a state after a later step replaced it gets an error, not other data', async (t) => {
  const trainer = new Trainer(config());
  const m = trainer.step();
  trainer.step(); // nobody read the state after step 0: step 1 updated it in place
  t.throws(() => carriedState(m)!(), /state after step 0 is no longer kept/);
  t.equal(carriedState(trainer.step())!().step, 3, 'the latest step’s reader works');
});

t.test('a step that throws leaves the state it was stepping as it was', async (t) => {
  let bad = false;
  const trainer = new Trainer({
    ...config(),
    optimizer: adamw({ lr: 0.01 }),
    curvature: undefined,
    // No batchSpec: the model itself rejects the batch, inside the gradient port.
    batchAt: (k: number) =>
      bad ? { ...batchOf(k), inputs: new Float32Array(32 * 5), inputShape: [32, 5] } : batchOf(k),
  });
  for (let i = 0; i < 4; i++) trainer.step();
  bad = true;
  const probe = new Trainer({ ...config(), optimizer: adamw({ lr: 0.01 }), curvature: undefined });
  for (let i = 0; i < 4; i++) probe.step();
  const expected = bytesOf(probe.state());
  t.throws(() => trainer.step(), /inputs \[32, 5\]/);
  bad = false;
  t.same(bytesOf(trainer.state()), expected, 'θ and the optimizer state are step 4’s');
  t.equal(trainer.state().step, 4);
  trainer.step();
  probe.step();
  t.same(bytesOf(trainer.state()), bytesOf(probe.state()), 'and the next step is the one it would have been');
});

t.test('the state a run resumes from is left intact', async (t) => {
  const first = new Trainer(config());
  for (let i = 0; i < 7; i++) first.step();
  const resume = structuredClone(first.state());
  const before = bytesOf(resume);
  const resumed = new Trainer({ ...config(), resume });
  for (let i = 0; i < 5; i++) resumed.step();
  t.same(bytesOf(resume), before);
  t.equal(resumed.nextStep, 12);
});
