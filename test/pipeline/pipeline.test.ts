import t from 'tap';
import { from, lastValueFrom, take, tap, toArray } from 'rxjs';
import type { BatchError } from '../../src/streams/step.js';
import { adamw } from '../../src/optim/index.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import { WorkerPools } from '../../src/workers/pools.js';
import {
  batchOf,
  firstBitDifference,
  fixtureReference,
  gnbCurvature,
  gnbOptimizer,
  gnbReference,
  model,
  modelSpec,
  spec,
} from './fixtures.js';

const STEPS = 8;
const curvature = gnbCurvature;
const optimizer = gnbOptimizer;
const reference = gnbReference(STEPS);

t.test('injected worker failures (throw, process.exit) are retried and change nothing', async (t) => {
  for (const mode of ['throw', 'exit'] as const) {
    const retries: string[] = [];
    const pools = new WorkerPools({
      modelSpec,
      layoutSize: model.layout.size,
      workers: 2,
      maxRetries: 2,
      injectFailures: {
        gradient: { step: 3, shardIndex: 1, times: 2, mode },
        probe: { step: 4, times: 1, mode },
      },
      onRetry: (a, e) => retries.push(`${a}: ${e.message}`),
    });
    const p = createPipeline({
      model: modelSpec,
      optimizer: optimizer(),
      seed: 5,
      pools,
      batchSpec: spec,
      curvature,
    });
    try {
      await lastValueFrom(p.run(fromDataset(batchOf, { end: STEPS })));
      t.equal(retries.length, 3, `${mode}: 2 gradient + 1 probe retries: ${retries.join(' | ')}`);
      t.equal(
        firstBitDifference(p.params(), reference.state.params),
        -1,
        `${mode}: bit-identical to the clean reference`,
      );
    } finally {
      await p.close();
      await pools.close();
    }
  }
});

t.test('a failure past maxRetries ends the stream with the original cause', async (t) => {
  const p = createPipeline({
    model: modelSpec,
    optimizer: optimizer(),
    seed: 5,
    workers: 1,
    maxRetries: 1,
    injectFailures: { gradient: { step: 2, shardIndex: 0, times: 5, mode: 'throw' } },
  });
  const seen: number[] = [];
  try {
    await t.rejects(
      lastValueFrom(p.run(fromDataset(batchOf, { end: STEPS })).pipe(tap((m) => seen.push(m.step)))),
      {
        // The worker's own error (piscina keeps its name, message and stack; not custom fields).
        message: /injected failure in shard 0 of step 2 \(attempt 0\)/,
      },
    );
    t.same(seen, [0, 1], 'steps before the failure completed');
    t.equal(p.snapshot().step, 2, 'θ stays at the last completed step');
  } finally {
    await p.close();
  }
});

t.test('shared pools: error channel, stop, snapshot, async mode', async (t) => {
  const pools = new WorkerPools({ modelSpec, layoutSize: model.layout.size, workers: 2 });
  t.teardown(() => pools.close());

  await t.test('bad batches go to errors$ with a reason and never reach the optimizer', async (t) => {
    const p = createPipeline({
      model: modelSpec,
      optimizer: adamw({ lr: 0.01 }),
      seed: 5,
      pools,
      batchSpec: spec,
    });
    const errors: BatchError[] = [];
    p.errors$.subscribe((e) => errors.push(e));
    const bad = { ...batchOf(1), inputs: batchOf(1).inputs.slice() };
    bad.inputs[5] = NaN;
    const wrongShape = { ...batchOf(2), inputShape: [32, 7] };
    const source = [batchOf(0), bad, batchOf(1), wrongShape, batchOf(2), batchOf(3)];
    try {
      const m = await lastValueFrom(p.run(from(source)).pipe(toArray()));
      t.same(
        m.map((x) => x.step),
        [0, 1, 2, 3],
      );
      t.same(
        errors.map((e) => [e.step, e.reason]),
        [
          [1, 'non_finite'],
          [2, 'shape'],
        ],
      );
      t.match(errors[0].message, /inputs\[0\]\[5\] is NaN/);
      const ref = fixtureReference({ optimizer: adamw({ lr: 0.01 }), steps: 4 });
      t.equal(firstBitDifference(p.params(), ref.state.params), -1, 'as if the bad batches never came');
    } finally {
      await p.close();
    }
  });

  await t.test('stop() ends the run after a completed step; a new run continues from there', async (t) => {
    const p = createPipeline({ model: modelSpec, optimizer: optimizer(), seed: 5, pools, curvature });
    try {
      const first: number[] = [];
      await lastValueFrom(
        p.run(fromDataset(batchOf, { end: STEPS })).pipe(
          tap((m) => {
            first.push(m.step);
            if (m.step === 4) p.stop();
          }),
        ),
      );
      t.same(first, [0, 1, 2, 3, 4]);
      const snap = p.snapshot();
      t.equal(snap.step, 5);
      t.same(
        snap.pending.map((e) => e.launchedAt),
        [4],
        'the estimate launched at 4 is still pending',
      );
      await lastValueFrom(p.run(fromDataset(batchOf, { start: 5, end: STEPS })));
      t.equal(firstBitDifference(p.params(), reference.state.params), -1, 'stop + resume equals one run');
    } finally {
      await p.close();
    }
  });

  await t.test('async mode folds estimates when they arrive, never later than maxStaleness', async (t) => {
    const p = createPipeline({
      model: modelSpec,
      optimizer: optimizer(),
      seed: 5,
      pools,
      curvature: { estimator: 'gnb', every: 2, first: 0 },
      mode: 'async',
      maxStaleness: 1,
    });
    try {
      const m = await lastValueFrom(p.run(fromDataset(batchOf, { end: 10 })).pipe(toArray()));
      const applied = m.filter((x) => x.curvatureStaleness !== undefined);
      t.equal(applied.length, 5, 'every estimate (launched at 0, 2, 4, 6, 8) is applied');
      t.ok(
        applied.every((x) => x.curvatureStaleness! <= 1),
        `staleness ${applied.map((x) => x.curvatureStaleness)}`,
      );
      t.ok(m.every((x) => !x.skipped && Number.isFinite(x.loss)));
    } finally {
      await p.close();
    }
  });

  await t.test(
    'pause() holds the next step, resume() continues; the source is pulled, never ahead',
    async (t) => {
      const p = createPipeline({
        model: modelSpec,
        optimizer: adamw({ lr: 0.01 }),
        seed: 5,
        pools,
        maxInFlight: 2,
      });
      const built: number[] = [];
      const steps: number[] = [];
      const source = fromDataset(
        (k) => {
          built.push(k);
          return batchOf(k);
        },
        { end: 6 },
      );
      try {
        const done = lastValueFrom(
          p.run(source).pipe(
            tap((m) => {
              steps.push(m.step);
              if (m.step === 1) p.pause();
            }),
          ),
        );
        await new Promise((r) => setTimeout(r, 300));
        t.same(steps, [0, 1], 'no step after pause()');
        t.ok(built.length <= steps.length + 2, `at most maxInFlight batches ahead: built ${built}`);
        p.resume();
        await done;
        t.same(steps, [0, 1, 2, 3, 4, 5]);
        const ref = fixtureReference({ optimizer: adamw({ lr: 0.01 }), steps: 6 });
        t.equal(firstBitDifference(p.params(), ref.state.params), -1, 'pausing changes nothing');
      } finally {
        await p.close();
      }
    },
  );

  await t.test('one pipeline at a time holds the pools', async (t) => {
    const a = createPipeline({ model: modelSpec, optimizer: adamw(), pools });
    t.throws(() => createPipeline({ model: modelSpec, optimizer: adamw(), pools }), /already held/);
    await a.close();
    const b = createPipeline({ model: modelSpec, optimizer: adamw(), pools });
    await lastValueFrom(b.run(fromDataset(batchOf, { end: 1 })).pipe(take(1)));
    await b.close();
  });
});
