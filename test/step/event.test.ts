/**
 * Steps carry the state after them: a sink needs no `state` reader, reads exactly θ after the step, and
 * the reader never reaches JSON. Checked against independent runs of the same loops.
 */
import t from 'tap';
import { lastValueFrom, mergeMap, of, toArray } from 'rxjs';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { carriedState } from '../../src/step/event.js';
import { evaluateEvery } from '../../src/streams/evaluate-every.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import { fromTrainer } from '../../src/streams/from-trainer.js';
import { Trainer } from '../../src/train/train.js';
import {
  batchOf,
  firstBitDifference,
  fixtureReference,
  gnbCurvature,
  gnbOptimizer,
  model,
  modelSpec,
} from '../pipeline/fixtures.js';

const fakeEval = (seen: Float32Array[]) => (p: Float32Array) => {
  seen.push(p.slice());
  return { loss: p[0], accuracy: 0, predictions: 1 };
};

t.test('Trainer steps carry θ after them: evaluateEvery without a state reader', async (t) => {
  const config = {
    model,
    optimizer: gnbOptimizer(),
    batchAt: batchOf,
    steps: 4,
    seed: 5,
    curvature: gnbCurvature,
  };
  const seen: Float32Array[] = [];
  const ms = await lastValueFrom(
    fromTrainer(new Trainer(config)).pipe(evaluateEvery({ every: 2, evaluate: fakeEval(seen) }), toArray()),
  );
  const at2 = new Trainer({ ...config, steps: 2 });
  while (!at2.done()) at2.step();
  const at4 = new Trainer(config);
  while (!at4.done()) at4.step();
  t.equal(seen.length, 2);
  t.equal(firstBitDifference(seen[0], at2.state().params), -1, 'θ after step 2');
  t.equal(firstBitDifference(seen[1], at4.state().params), -1, 'θ after step 4');
  t.equal(ms[1].eval?.loss, at2.state().params[0], 'eval attached to the step it belongs to');
  t.ok(carriedState(ms[3]), 'the spread metrics still carry the reader');
  t.notMatch(JSON.stringify(ms[3]), /params/, 'the reader never reaches JSON');
  t.same(Object.keys(ms[0]).sort(), Object.keys({ ...ms[0] }).sort());
});

t.test(
  'pipeline steps carry θ after them; a stage behind one that holds steps back is refused',
  async (t) => {
    const seen: Float32Array[] = [];
    const p = createPipeline({
      model: modelSpec,
      optimizer: gnbOptimizer(),
      seed: 5,
      shards: 4,
      workers: 2,
      curvature: gnbCurvature,
    });
    t.teardown(() => p.close());
    await lastValueFrom(
      p.run(fromDataset(batchOf, { end: 4 })).pipe(evaluateEvery({ every: 2, evaluate: fakeEval(seen) })),
    );
    for (const [i, steps] of [2, 4].entries()) {
      const ref = fixtureReference({ optimizer: gnbOptimizer(), steps, shards: 4, curvature: gnbCurvature });
      t.equal(firstBitDifference(seen[i], ref.state.params), -1, `θ after step ${steps}`);
    }
    const misplaced = p.run(fromDataset((k) => batchOf(k + 4), { end: 4 })).pipe(
      toArray(),
      mergeMap((ms) => ms),
      evaluateEvery({ every: 1, evaluate: fakeEval([]) }),
    );
    await t.rejects(lastValueFrom(misplaced), /evaluateEvery: the trainer is at step/);
  },
);

t.test('metrics with no reader and no state option: a clear error', async (t) => {
  const m = { step: 0, loss: 1, gradNorm: 1, updateNorm: 1, predictions: 1, skipped: false, ms: 0 };
  const out = lastValueFrom(of(m).pipe(evaluateEvery({ every: 1, evaluate: fakeEval([]) })));
  await t.rejects(out, /carry no state and no state reader was given/);
});
