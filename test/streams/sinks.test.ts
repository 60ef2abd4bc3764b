/**
 * The sink stages on a scripted trainer (no workers): which steps they act on, that they read θ of exactly
 * that step (and refuse a state that moved on), what lands on disk, and that files are closed and
 * errors reach the subscriber.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Observable, Subject, lastValueFrom, toArray } from 'rxjs';
import { decodeCheckpoint } from '../../src/io/index.js';
import { paramsFromSafetensors } from '../../src/io/safetensors-params.js';
import { checkpointEvery } from '../../src/streams/checkpoint-every.js';
import { evaluateEvery } from '../../src/streams/evaluate-every.js';
import type { TrainedState } from '../../src/streams/trained-state.js';
import { writeMetrics } from '../../src/streams/write-metrics.js';
import type { StepMetrics } from '../../src/step/records.js';

const tmp = mkdtempSync(join(tmpdir(), 'hessflow-sinks-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

const layout = [{ name: 'w', shape: [3], offset: 0, tags: [] as string[] }];

/**
 * A fake trainer of `steps` steps: step t sets θ to [t+1, 2(t+1), 3(t+1)] in place (as the pipeline
 * updates its shared buffer), then emits its metrics synchronously.
 */
function scripted(steps: number) {
  const state: TrainedState = { step: 0, params: new Float32Array(3), optState: { count: 0 } };
  const steps$ = new Observable<StepMetrics>((subscriber) => {
    for (let t = 0; t < steps && !subscriber.closed; t++) {
      state.params.set([t + 1, 2 * (t + 1), 3 * (t + 1)]);
      state.step = t + 1;
      state.optState = { count: t + 1 };
      subscriber.next({
        step: t,
        loss: 1 / (t + 1),
        gradNorm: 1,
        updateNorm: 1,
        predictions: 4,
        skipped: false,
        ms: 1,
      });
    }
    subscriber.complete();
  });
  return { state, steps$, read: () => state };
}

t.test('evaluateEvery evaluates θ after every k-th step and after the last', async (t) => {
  const s = scripted(7);
  const out = await lastValueFrom(
    s.steps$.pipe(
      evaluateEvery({
        every: 3,
        last: 7,
        state: s.read,
        // The "accuracy" is θ[0] = steps applied: proves which θ was evaluated.
        evaluate: (p) => ({ loss: p[1], accuracy: p[0], predictions: 10 }),
      }),
      toArray(),
    ),
  );
  t.same(
    out.filter((m) => m.eval).map((m) => [m.step, m.eval!.accuracy, m.eval!.loss]),
    [
      [2, 3, 6],
      [5, 6, 12],
      [6, 7, 14],
    ],
  );
  t.equal(out.length, 7, 'every step passes through');
});

t.test('a stage that reads a state that moved on errors, naming both steps', async (t) => {
  const s = scripted(3);
  const late = { ...s.state, step: 5 };
  await t.rejects(
    lastValueFrom(
      s.steps$.pipe(
        evaluateEvery({
          every: 1,
          state: () => late,
          evaluate: () => ({ loss: 0, accuracy: 0, predictions: 1 }),
        }),
      ),
    ),
    /evaluateEvery: the trainer is at step 5 but the metrics are of step 0/,
  );
});

t.test('bad options are refused at construction, naming the option', async (t) => {
  const s = scripted(1);
  const ev = () => ({ loss: 0, accuracy: 0, predictions: 1 });
  t.throws(
    () => evaluateEvery({ every: 0, state: s.read, evaluate: ev }),
    /evaluateEvery: every must be a positive integer, got 0/,
  );
  t.throws(
    () => evaluateEvery({ every: 2.5, state: s.read, evaluate: ev }),
    /every must be a positive integer, got 2.5/,
  );
  t.throws(
    () => checkpointEvery({ dir: '', state: s.read, layout, meta: () => ({}) }),
    /checkpointEvery: dir must be a non-empty string/,
  );
  t.throws(
    () => checkpointEvery({ dir: tmp, every: -1, state: s.read, layout, meta: () => ({}) }),
    /checkpointEvery: every must be a positive integer, got -1/,
  );
  t.throws(() => writeMetrics(''), /writeMetrics: path must be a non-empty string/);
});

t.test('writeMetrics writes one JSON line per step, in order, and closes the file', async (t) => {
  const path = join(tmp, 'metrics.ndjson');
  const s = scripted(4);
  const out = await lastValueFrom(s.steps$.pipe(writeMetrics(path), toArray()));
  t.equal(out.length, 4);
  const lines = readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.same(
    lines.map((m) => [m.step, m.loss]),
    [0, 1, 2, 3].map((i) => [i, 1 / (i + 1)]),
  );
});

t.test('writeMetrics keeps the lines written before an error and passes the error on', async (t) => {
  const path = join(tmp, 'failed.ndjson');
  const src = new Subject<StepMetrics>();
  const done = lastValueFrom(src.pipe(writeMetrics(path), toArray()));
  src.next({ step: 0, loss: NaN, gradNorm: 0, updateNorm: 0, predictions: 1, skipped: true, ms: 0 });
  src.error(new Error('worker died'));
  await t.rejects(done, /worker died/);
  t.same(JSON.parse(readFileSync(path, 'utf8')), {
    step: 0,
    loss: null,
    gradNorm: 0,
    updateNorm: 0,
    predictions: 1,
    skipped: true,
    ms: 0,
  });
  t.doesNotThrow(() => writeMetrics(join(tmp, 'no-such-dir', 'm.ndjson')), 'construction does not open');
  await t.rejects(
    lastValueFrom(scripted(1).steps$.pipe(writeMetrics(join(tmp, 'no-such-dir', 'm.ndjson')))),
    /ENOENT/,
    'a file that cannot be opened errors the stream',
  );
});

t.test('checkpointEvery writes θ of the k-th steps, then the final state at completion', async (t) => {
  const dir = mkdtempSync(join(tmp, 'ckpt-'));
  const s = scripted(5);
  const written: number[] = [];
  const seen: string[] = [];
  const out = await lastValueFrom(
    s.steps$.pipe(
      checkpointEvery({
        dir,
        every: 2,
        state: s.read,
        layout,
        meta: (m) => ({ lastStep: m?.step ?? null }),
        onWritten: (w) => {
          written.push(w.step);
          // Each file holds θ as it was at that step, although θ moved on in place since.
          const c = decodeCheckpoint(readFileSync(w.checkpoint));
          seen.push(
            `${c.step}:${[...c.params].join(',')}:${JSON.stringify(c.optimizerState)}:${String(c.meta.lastStep)}`,
          );
        },
      }),
      toArray(),
    ),
  );
  t.equal(out.length, 5);
  t.same(written, [2, 4, 5], 'after steps 2 and 4, and the final state (5 steps)');
  t.same(seen, ['2:2,4,6:{"count":2}:1', '4:4,8,12:{"count":4}:3', '5:5,10,15:{"count":5}:4']);
  const weights = paramsFromSafetensors(readFileSync(join(dir, 'weights.safetensors')), layout);
  t.same([...weights], [5, 10, 15], 'weights.safetensors holds the final θ');
});

t.test('checkpointEvery does not write the final state twice', async (t) => {
  const dir = mkdtempSync(join(tmp, 'ckpt-'));
  const s = scripted(4);
  const written: number[] = [];
  await lastValueFrom(
    s.steps$.pipe(
      checkpointEvery({
        dir,
        every: 2,
        state: s.read,
        layout,
        meta: () => ({}),
        onWritten: (w) => written.push(w.step),
      }),
    ),
  );
  t.same(written, [2, 4]);
});

t.test('a failed checkpoint write errors the stream', async (t) => {
  const s = scripted(2);
  await t.rejects(
    lastValueFrom(
      s.steps$.pipe(
        checkpointEvery({ dir: join(tmp, 'missing', 'dir'), state: s.read, layout, meta: () => ({}) }),
      ),
    ),
    /ENOENT/,
  );
});
