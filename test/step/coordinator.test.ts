/**
 * The Coordinator behind ports that are neither threads nor the pipeline: a test double answering
 * asynchronously and out of shard order, as a remote pool would. Driven step by step here, it must
 * reproduce referenceLoop bit for bit, which is what lets another pool be one more port implementation.
 */
import t from 'tap';
import { firstValueFrom, forkJoin } from 'rxjs';
import { resolveCurvature } from '../../src/step/curvature-schedule.js';
import { Coordinator } from '../../src/step/coordinator.js';
import { type PoolPorts, inlineProbe } from '../../src/step/ports.js';
import { reduceShards, shardBatch, shardGradient } from '../../src/step/shards.js';
import { batchOf, firstBitDifference, fixtureReference, model } from '../pipeline/fixtures.js';
import { initialParams } from '../../src/nn/model.js';
import { tensorLayoutOf } from '../../src/nn/tensor-layout.js';
import { sophiaG } from '../../src/optim/index.js';

const STEPS = 9;
const curvature = { estimator: 'gnb' as const, every: 2, first: 0, staleness: 1 };
const later = <T>(v: () => T, ms: number) => new Promise<T>((ok) => setTimeout(() => ok(v()), ms));

t.test('a Coordinator on asynchronous test-double ports equals referenceLoop bit for bit', async (t) => {
  const ref = fixtureReference({
    optimizer: sophiaG({ lr: 0.02, rho: 0.05 }),
    steps: STEPS,
    shards: 3,
    curvature,
  });
  const params = initialParams(model, 5) as Float32Array;
  // The double reads θ where the coordinator publishes it, and checks the version it was asked for.
  const version = new Int32Array(1);
  const seen: number[] = [];
  const ports: PoolPorts = {
    gradient: (step, i, shard, total) => {
      if (Atomics.load(version, 0) !== step) throw new Error(`θ version ${version[0]}, want ${step}`);
      const r = shardGradient(model, params, shard, total);
      seen.push(i);
      // Later shards answer first.
      return later(() => r, 3 - i);
    },
    probe: (task) => later(() => ({ ...inlineProbe(model, task), seconds: 0.001 }), 5),
  };
  const optimizer = sophiaG({ lr: 0.02, rho: 0.05 });
  const c = new Coordinator({
    params,
    version,
    optimizer,
    optState: optimizer.init(params.slice(), tensorLayoutOf(model)),
    step: 0,
    skipped: 0,
    curvature: resolveCurvature(curvature),
    seed: 5,
    rule: { mode: 'deterministic', staleness: 1, maxStaleness: 0 },
    ports,
    log: () => undefined,
  });
  const applied: number[] = [];
  c.probes$.subscribe((p) => applied.push(p.step));
  for (let step = 0; step < STEPS; step++) {
    const batch = batchOf(step);
    if (c.launchesAt(step)) c.inFlight.add(step, c.launch(step, batch));
    const shards = shardBatch(batch, 3);
    const parts = await firstValueFrom(
      forkJoin(shards.map((s, i) => c.shardGradient(step, i, s, batch.targets.length))),
    );
    const due = await firstValueFrom(c.inFlight.due(step, c.rule));
    const m = c.apply(step, reduceShards(parts, false, c.arrays), batch.targets.length, due, true);
    t.equal(m.loss, ref.history[step].loss, `step ${step}: loss`);
  }
  t.equal(firstBitDifference(c.state.params, ref.state.params), -1, 'θ bit-identical');
  t.equal(version[0], STEPS, 'the last version published is θ after the last step');
  t.same(applied, [0, 2, 4, 6], 'each applied estimate reported once, by launch step');
  t.ok(seen.length === STEPS * 3, 'every shard went through the gradient port');
});

t.test('apply refuses a step out of order and changes nothing', async (t) => {
  const params = initialParams(model, 5) as Float32Array;
  const optimizer = sophiaG({ lr: 0.02, rho: 0.05 });
  const ports: PoolPorts = {
    gradient: () => {
      throw new Error('unused');
    },
    probe: () => {
      throw new Error('unused');
    },
  };
  const c = new Coordinator({
    params,
    optimizer,
    optState: optimizer.init(params.slice(), tensorLayoutOf(model)),
    step: 4,
    skipped: 0,
    curvature: null,
    seed: 5,
    rule: { mode: 'deterministic', staleness: 0, maxStaleness: 0 },
    ports,
    log: () => undefined,
  });
  const before = params.slice();
  const g = { loss: 1, grad: new Float32Array(params.length).fill(0.1), nonFinite: false };
  t.throws(() => c.apply(5, g, 32, null, false), /step 5 arrived, expected 4/);
  t.equal(firstBitDifference(params, before), -1);
  t.equal(c.state.step, 4);
});
