/**
 * PipelineEngine in process, against the trainer engine and the pipeline's reference loop bit for bit:
 * one shard equals the Trainer, several shards equal `referenceLoop`; a hyperparameter change applies
 * from the next step; a snapshot through the checkpoint store (msgpackr) resumes exactly; a worker
 * failure past the retry bound keeps its batch (onError, not dropped) and halts until resume(); stop() ends every
 * worker thread (the test would not exit otherwise).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Batch } from '../../src/data/batch.js';
import { CheckpointStore } from '../../src/daemon/checkpoint-store.js';
import type { AppliedStep, EngineSnapshot, TrainingEngine } from '../../src/daemon/engine.js';
import { type PipelineEngineOptions, PipelineEngine } from '../../src/daemon/pipeline-engine.js';
import { TrainerEngine } from '../../src/daemon/trainer-engine.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { injectHyperparams } from '../../src/optim/inject.js';
import { sophiaG } from '../../src/optim/sophia-g.js';
import { referenceLoop } from '../../src/pipeline/reference.js';
import type { CurvatureConfig } from '../../src/step/curvature-schedule.js';
import { typedBatch } from './fixtures/daemon.js';

const SPEC = { kind: 'mlp', sizes: [8, 6, 3] } as const;
const HYPER = { lr: 0.01, rho: 0.04 };
const SEED = 3;
const CURVATURE: CurvatureConfig = { estimator: 'gnb', every: 3 };

const batch = (k: number): Batch => typedBatch(4, k);

function pipelineEngine(extra: Partial<PipelineEngineOptions> = {}): PipelineEngine {
  return new PipelineEngine({
    model: buildModel({ ...SPEC }),
    modelSpec: { ...SPEC },
    optimizer: { name: 'sophiaG', ...HYPER },
    curvature: CURVATURE,
    seed: SEED,
    queueLimit: 64,
    workers: 1,
    shards: 1,
    ...extra,
  });
}

function trainerEngine(): TrainerEngine {
  return new TrainerEngine({
    model: buildModel({ ...SPEC }),
    optimizer: { name: 'sophiaG', ...HYPER },
    curvature: CURVATURE,
    seed: SEED,
    queueLimit: 64,
  });
}

/** Submits batches ks and resolves with the steps once `n` more have been applied. */
function feed(engine: TrainingEngine, ks: number[], steps: AppliedStep[], n = ks.length): Promise<void> {
  const target = steps.length + n;
  const done = new Promise<void>((resolve) => {
    if (steps.length >= target) resolve();
    engine.onStep(() => steps.length >= target && resolve());
  });
  for (const k of ks) if (engine.submit(batch(k)) === null) throw new Error(`batch ${k} refused`);
  return done;
}

function record(engine: TrainingEngine): AppliedStep[] {
  const steps: AppliedStep[] = [];
  engine.onStep((s) => steps.push(s));
  return steps;
}

const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

async function params(engine: TrainingEngine): Promise<Float32Array> {
  return (await engine.snapshot()).params;
}

function sameBits(
  t: { equal(a: unknown, b: unknown, m: string): void; ok(v: boolean, m: string): void },
  got: Float32Array,
  want: Float32Array,
  what: string,
): void {
  t.equal(got.length, want.length, `${what}: length`);
  t.ok(
    got.every((v, i) => Object.is(v, want[i])),
    what,
  );
}

t.test('one shard: every step and the final θ equal the trainer engine, bit for bit', async (t) => {
  const n = 8;
  const [p, r] = [pipelineEngine(), trainerEngine()];
  const [ps, rs] = [record(p), record(r)];
  p.start();
  r.start();
  await Promise.all([feed(p, range(0, n), ps), feed(r, range(0, n), rs)]);
  t.same(
    ps.map((s) => s.seq),
    range(1, n + 1),
    'one step per batch, in sequence order',
  );
  t.same(
    ps.map((s) => s.metrics.loss),
    rs.map((s) => s.metrics.loss),
    'losses equal',
  );
  t.same(
    ps.map((s) => s.metrics.winRate),
    rs.map((s) => s.metrics.winRate),
    'win rates equal',
  );
  sameBits(t, await params(p), await params(r), 'θ equals the trainer engine after 8 steps');
  t.equal(p.status().step, n);
  t.equal(p.status().queueDepth, 0);
  await Promise.all([p.stop(), r.stop()]);
});

t.test('three shards: equals referenceLoop with three shards', async (t) => {
  const n = 7;
  const p = pipelineEngine({ shards: 3, workers: 2 });
  const ps = record(p);
  p.start();
  await feed(p, range(0, n), ps);
  const model = buildModel({ ...SPEC });
  const ref = referenceLoop({
    model,
    optimizer: injectHyperparams(sophiaG)(HYPER),
    batchAt: batch,
    steps: n,
    seed: SEED,
    shards: 3,
    curvature: CURVATURE,
  });
  t.same(
    ps.map((s) => s.metrics.loss),
    ref.history.map((m) => m.loss),
  );
  sameBits(t, await params(p), ref.state.params, 'θ equals referenceLoop');
  await p.stop();
});

t.test('setHyperparams applies from the next step, as in the trainer engine', async (t) => {
  const [p, r] = [pipelineEngine(), trainerEngine()];
  const [ps, rs] = [record(p), record(r)];
  p.start();
  r.start();
  await Promise.all([feed(p, range(0, 4), ps), feed(r, range(0, 4), rs)]);
  t.throws(() => p.setHyperparams({ lr: -1 }), /lr/, 'a bad value is refused');
  t.throws(() => p.setHyperparams({ nope: 1 }), {
    name: 'IngestError',
    message: /unknown hyperparameter "nope"/,
  });
  t.same(p.setHyperparams({ lr: 0.05 }), r.setHyperparams({ lr: 0.05 }));
  t.equal(p.status().optimizer.hyperparams.lr, 0.05, 'status shows the new value');
  t.equal(((await p.snapshot()).optState as { hyperparams: { lr: number } }).hyperparams.lr, 0.05);
  await Promise.all([feed(p, range(4, 8), ps), feed(r, range(4, 8), rs)]);
  sameBits(t, await params(p), await params(r), 'θ equals the trainer engine with the same change');
  await Promise.all([p.stop(), r.stop()]);
});

t.test('a snapshot saved and loaded by the checkpoint store resumes bit for bit', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hessflow-pengine-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const n = 10;
  // Launched at 3, applied at 5: the checkpoint at step 5 must carry the estimate's value.
  const late = { shards: 2, curvature: { ...CURVATURE, staleness: 2 } };
  const whole = pipelineEngine(late);
  const ws = record(whole);
  whole.start();
  await feed(whole, range(0, n), ws);

  // a: 5 applied, 2 more queued behind a pause, then stopped; b resumes with the queue and the rest
  const a = pipelineEngine(late);
  const as = record(a);
  a.start();
  await feed(a, range(0, 5), as);
  a.pause();
  a.submit(batch(5));
  a.submit(batch(6));
  await a.stop();
  const store = new CheckpointStore(dir, 2, false);
  await store.save(await a.snapshot());
  const { found } = await store.loadNewestValid();
  const snap = found!.snapshot as EngineSnapshot;
  t.equal(snap.step, 5);
  t.same(
    snap.queue.map((q) => q.seq),
    [6, 7],
    'the unapplied queue is in the checkpoint',
  );
  t.equal(snap.paused, true);
  t.same(
    snap.pending.map((e) => e.launchedAt),
    [3],
    'the estimate launched at step 3, due at 5, is kept',
  );

  const b = pipelineEngine({ ...late, resume: snap });
  const bs = record(b);
  b.start();
  t.equal(b.status().paused, true, 'restored paused');
  const done = feed(b, range(7, n), bs, n - 5);
  b.resume();
  await done;
  t.same(
    bs.map((s) => s.seq),
    range(6, n + 1),
  );
  t.same(
    [...as, ...bs].map((s) => s.metrics.loss),
    ws.map((s) => s.metrics.loss),
  );
  sameBits(t, await params(b), await params(whole), 'θ equals the uninterrupted engine');
  await Promise.all([whole.stop(), b.stop()]);
});

/** Resolves with the next onError call: the error, the seq, whether the batch was dropped. */
function nextError(engine: TrainingEngine): Promise<[Error, number, boolean]> {
  return new Promise((resolve) => {
    let fired = false;
    engine.onError((e, seq, dropped) => {
      if (!fired) resolve([e, seq, dropped]);
      fired = true;
    });
  });
}

for (const mode of ['throw', 'exit'] as const)
  t.test(
    `a gradient worker failing past the retry bound (${mode}): the batch is kept, training halts`,
    async (t) => {
      // Every attempt of every run at step 2 fails: the worker throws, or its thread exits.
      const p = pipelineEngine({ injectFailures: { gradient: { step: 2, times: 1000, mode } } });
      const ps = record(p);
      const failed = nextError(p);
      p.start();
      await feed(p, range(0, 2), ps);
      for (const k of range(2, 5)) t.ok(p.submit(batch(k)) !== null, `batch ${k} acknowledged`);
      const [e, seq, dropped] = await failed;
      t.match(e.message, mode === 'throw' ? /shard 0 of step 2/ : /./, 'the original cause');
      t.equal(seq, 3, 'the batch at the head');
      t.equal(dropped, false, 'is not dropped');
      const s = p.status();
      t.same(s.halted, { error: e.message, seq: 3 }, 'status says halted, with the kept batch');
      t.equal(s.step, 2);
      t.equal(s.queueDepth, 3, 'seq 3, 4, 5 still queued');
      t.equal(ps.length + s.queueDepth, 5, 'applied + queued = acknowledged');

      // resume() retries the kept batch; the worker fails again, and again nothing is lost.
      const again = nextError(p);
      p.resume();
      t.equal((await again)[1], 3, 'the retry fails on the same batch');
      t.equal(p.status().queueDepth, 3);
      t.equal(ps.length, 2, 'nothing applied meanwhile');

      // A graceful stop checkpoints the queue; an engine resumed from it (workers healthy) applies it.
      await p.stop();
      const snap = await p.snapshot();
      t.same(
        snap.queue.map((q) => q.seq),
        [3, 4, 5],
        'the checkpoint holds every unapplied acknowledged batch',
      );
      t.equal(snap.step, 2);
      t.equal(snap.nextSeq, 6);
      const q = pipelineEngine({ resume: snap });
      const qs = record(q);
      const drained = new Promise<void>((resolve) => q.onStep(() => qs.length === 3 && resolve()));
      q.start();
      await drained;
      t.same(
        qs.map((x) => x.seq),
        [3, 4, 5],
        'and the resumed engine applies them, in order',
      );
      const r = trainerEngine();
      const rs = record(r);
      r.start();
      await feed(r, range(0, 5), rs);
      sameBits(t, await params(q), await params(r), 'θ equals an uninterrupted run of all 5 batches');
      await Promise.all([q.stop(), r.stop()]);
    },
  );

t.test(
  'a probe failing past the retry bound: the step waiting for it halts with its batch kept; resume trains on',
  async (t) => {
    // Launched at 3 and due at 4: step 3 applies, step 4 (seq 5) fails waiting for the estimate.
    const p = pipelineEngine({
      curvature: { ...CURVATURE, staleness: 1 },
      injectFailures: { probe: { step: 3, times: 3, mode: 'throw' } },
    });
    const ps = record(p);
    const errors: [string, number, boolean][] = [];
    p.onError((e, seq, dropped) => errors.push([e.message, seq, dropped]));
    const failed = nextError(p);
    p.start();
    await feed(p, range(0, 4), ps);
    for (const k of range(4, 8)) p.submit(batch(k));
    await failed;
    t.same(errors, [['injected failure in probe step 3 (attempt 0)', 5, false]], 'halted on seq 5, kept');
    t.equal(p.status().halted?.seq, 5);
    t.equal(p.status().queueDepth, 4);
    const snapHalted = await p.snapshot();
    t.same(
      snapHalted.queue.map((q) => q.seq),
      [5, 6, 7, 8],
      'a checkpoint while halted holds the kept batch',
    );
    const done = new Promise<void>((resolve) => p.onStep(() => ps.length === 8 && resolve()));
    p.resume();
    await done;
    t.same(
      ps.map((s) => s.seq),
      [1, 2, 3, 4, 5, 6, 7, 8],
      'every acknowledged batch applied once, in order',
    );
    t.equal(p.status().halted, null);
    const snap = await p.snapshot();
    t.equal(snap.step, 8, 'checkpoints go on: the failed estimate left the book');
    t.same(
      snap.pending.map((e) => e.launchedAt),
      [],
      'nothing pending: the estimate launched at 6 was applied at 7',
    );
    await p.stop();
  },
);
