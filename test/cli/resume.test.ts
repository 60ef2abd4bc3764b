/**
 * Resuming through the training driver, for both engines: N steps, the state through a real checkpoint
 * file, then up to N + M with `resume`, equals N + M steps in one go bit for bit — with Sophia-G and a
 * curvature estimate still in flight at the checkpoint (staleness 1), which the resumed run must apply.
 * Leaving that estimate out gives another optimizer state (its Hessian EMA), so the check can fail.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { validateConfig } from '../../src/cli/config.js';
import { type ResumeState, runTraining } from '../../src/cli/run-training.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/io/index.js';
import { rng } from '../../src/random/counter-rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'hessflow-resume-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
const csv = join(tmp, 'blobs.csv');
let text = 'a,b,label\n';
for (let i = 0; i < 300; i++) {
  const c = i % 3;
  text += `${c + 0.5 * rng(1, 'a', i).normal()},${(c % 2) * 2 + 0.5 * rng(1, 'b', i).normal()},${c}\n`;
}
writeFileSync(csv, text);

const config = (steps: number) =>
  validateConfig({
    model: { kind: 'mlp', sizes: [2, 8, 3], activation: 'tanh' },
    optimizer: { name: 'sophiaG', lr: 0.01, rho: 0.04, weightDecay: 0 },
    curvature: { estimator: 'gnb', every: 2, staleness: 1 },
    data: { name: 'csv', path: csv, target: 'label', normalize: 'standard' },
    batchSize: 16,
    steps,
    evalEvery: 4,
    seed: 5,
  });

function sameBits(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return a.length === b.length && x.every((v, i) => v === y[i]);
}

for (const engine of ['trainer', 'pipeline'] as const) {
  t.test(`${engine}: 5 steps, checkpoint, 5 more = 10 in one go`, async (t) => {
    const o = { engine, workers: 1, shards: 2 };
    const whole = await runTraining(config(10), o);
    const first = await runTraining(config(5), o);
    t.equal(first.resumeState.step, 5);
    t.same(
      first.resumeState.pending.map((e) => e.launchedAt),
      [4],
      'the estimate launched at step 4 is still in flight (applied at step 5)',
    );
    // Through the file, as --resume reads it.
    const path = join(tmp, `${engine}.hfckpt`);
    const rs = first.resumeState;
    await saveCheckpoint(path, {
      params: rs.params,
      layout: first.model.layout.toJSON().map((e) => ({ ...e, shape: [...e.shape], tags: [...e.tags] })),
      optimizerState: rs.optState,
      step: rs.step,
      meta: { resume: { pending: rs.pending, skipped: rs.skipped } },
    });
    const cp = await loadCheckpoint(path);
    const meta = cp.meta.resume as { pending: ResumeState['pending']; skipped: number };
    const resume: ResumeState = {
      params: cp.params,
      optState: cp.optimizerState,
      step: cp.step,
      pending: meta.pending,
      skipped: meta.skipped,
    };
    const resumed = await runTraining(config(10), { ...o, resume });
    t.equal(resumed.step, 10);
    t.ok(sameBits(resumed.params, whole.params), 'θ after 10 steps: the same bits');
    t.same(resumed.optimizerState, whole.optimizerState, 'the same optimizer state');
    t.equal(resumed.finalEval.loss, whole.finalEval.loss);
    const without = await runTraining(config(10), { ...o, resume: { ...resume, pending: [] } });
    t.notSame(without.optimizerState, whole.optimizerState, 'without the estimate in flight, another state');
    await t.rejects(runTraining(config(4), { ...o, resume }), { message: /at step 5, past the 4 steps/ });
  });
}
