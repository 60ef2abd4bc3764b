import t from 'tap';
import { BehaviorSubject, type Observable, Subject, map, of, shareReplay, take } from 'rxjs';
import { resolveCurvature, launchesAt } from '../../src/step/curvature-schedule.js';
import { coordinate } from '../../src/streams/coordinate.js';
import { computeGradients } from '../../src/streams/compute-gradients.js';
import { pausable } from '../../src/streams/pausable.js';
import { probeCurvature } from '../../src/streams/probe-curvature.js';
import type { GradientStep, ProbeOutcome, ShardedStep } from '../../src/streams/step.js';
import { scheduler, tinyBatch } from './helpers.js';

const sharded = (step: number): ShardedStep => ({ step, batch: tinyBatch(step), shards: [] });
const outcome = (v: number): ProbeOutcome => ({ diag: new Float32Array([v]), nonFinite: false });
const grad = { loss: 0, grad: new Float32Array(1), nonFinite: false };

t.test('probeCurvature launches on θ_t exactly every k steps from `first`', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    const c = resolveCurvature({ estimator: 'gnb', every: 3, first: 1 });
    const launched: number[] = [];
    const steps$ = cold('a-b-c-d-e-f-g|', { a: 0, b: 1, c: 2, d: 3, e: 4, f: 5, g: 6 }).pipe(map(sharded));
    const out$ = steps$.pipe(
      probeCurvature({
        launchesAt: (s) => launchesAt(c, s),
        launch: (s) => {
          launched.push(s.step);
          return cold('--(x|)', { x: outcome(s.step) });
        },
        givesGradient: false,
        ready: () => of(0),
      }),
      map((s) => (s.probe ? `L${s.probe.launchedAt}` : '-')),
    );
    expectObservable(out$).toBe('a-b-c-d-e-f-g|', {
      a: '-',
      b: 'L1',
      c: '-',
      d: '-',
      e: 'L4',
      f: '-',
      g: '-',
    });
  });
  t.pass('launched at 1 and 4');
});

t.test('probeCurvature waits until θ_t is in place before launching', async (t) => {
  scheduler(t).run(({ cold, hot, expectObservable }) => {
    const applied = hot('----a', { a: 1 });
    const out$ = cold('a|', { a: 1 }).pipe(
      map(sharded),
      probeCurvature({
        launchesAt: () => true,
        launch: () => cold('(x|)', { x: outcome(0) }),
        givesGradient: false,
        ready: () => applied.pipe(take(1)),
      }),
      map((s) => s.step),
    );
    expectObservable(out$).toBe('----(a|)', { a: 1 });
  });
});

t.test('computeGradients reduces in shard order whatever order shards finish in', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    const values = [0.1, 0.2, 0.3, 1e8];
    const delays = ['---(x|)', '-(x|)', '(x|)', '--(x|)'];
    const step = {
      ...sharded(0),
      shards: [tinyBatch(0), tinyBatch(1), tinyBatch(2), tinyBatch(3)],
      probe: null,
    };
    const out$ = of(step).pipe(
      computeGradients(
        (_, i) =>
          cold(delays[i], { x: { loss: values[i], grad: new Float32Array([values[i]]), nonFinite: false } }),
        () => of(0),
      ),
      map((s) => s.gradient.grad[0]),
    );
    // ((0.1 + 0.2) + 0.3) + 1e8 in float32, the shard-order sum; arrival order would give another value.
    const want = new Float32Array([0.1]);
    want[0] += new Float32Array([0.2])[0];
    want[0] += new Float32Array([0.3])[0];
    want[0] += new Float32Array([1e8])[0];
    expectObservable(out$).toBe('---(a|)', { a: want[0] });
  });
});

function gradientSteps(
  cold: (m: string, v?: Record<string, unknown>) => Observable<unknown>,
  marble: string,
  probes: Record<number, string>,
) {
  const values: Record<string, number> = {};
  for (const ch of marble) if (/[0-9]/.test(ch)) values[ch] = Number(ch);
  return cold(marble, values).pipe(
    map((v): GradientStep => {
      const step = v as number;
      const p = probes[step];
      return {
        ...sharded(step),
        // Hot and replayed, as probeCurvature makes it.
        probe: p
          ? {
              launchedAt: step,
              givesGradient: false,
              result$: (cold(p, { x: outcome(step) }) as Observable<ProbeOutcome>).pipe(shareReplay(1)),
            }
          : null,
        gradient: grad,
      };
    }),
  );
}

t.test(
  'deterministic coordinate applies the estimate at exactly t + staleness, waiting if late',
  async (t) => {
    scheduler(t).run(({ cold, expectObservable }) => {
      // Estimate of step 0 arrives at frame 6; staleness 2 makes it due at step 2 (frame 2), which waits.
      const steps$ = gradientSteps(cold, '0-1-2-3----|', { 0: '------(x|)' });
      const out$ = steps$.pipe(
        coordinate({
          mode: 'deterministic',
          staleness: 2,
          maxStaleness: 0,
          apply: (s, due) => `${s.step}${due ? `@${due.launchedAt}` : ''}`,
        }),
      );
      expectObservable(out$).toBe('a-b---(cd)-|', { a: '0', b: '1', c: '2@0', d: '3' });
    });
  },
);

t.test('async coordinate folds an estimate when it arrives and waits only at maxStaleness', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    // Estimate of 0 arrives at frame 3: applied at step 2 (staleness 2). Estimate of 4 arrives at frame 20,
    // past the bound maxStaleness = 3: step 7 waits for it.
    const steps$ = gradientSteps(cold, '0-1-2-3-4-5-6-7|', { 0: '---(x|)', 4: '------------(x|)' });
    const out$ = steps$.pipe(
      coordinate({
        mode: 'async',
        staleness: 0,
        maxStaleness: 3,
        apply: (s, due) => `${s.step}${due ? `@${due.launchedAt}` : ''}`,
      }),
    );
    const v = { a: '0', b: '1', c: '2@0', d: '3', e: '4', f: '5', g: '6', h: '7@4' };
    expectObservable(out$).toBe('a-b-c-d-e-f-g-------(h|)', v);
  });
});

t.test('async coordinate drops a non-finite estimate', async (t) => {
  scheduler(t).run(({ cold, expectObservable }) => {
    const steps$ = cold('0-1|', { 0: 0, 1: 1 }).pipe(
      map((step): GradientStep => ({
        ...sharded(step),
        probe:
          step === 0
            ? {
                launchedAt: 0,
                givesGradient: false,
                result$: cold('(x|)', { x: { diag: new Float32Array(1), nonFinite: true } }),
              }
            : null,
        gradient: grad,
      })),
    );
    const out$ = steps$.pipe(
      coordinate({
        mode: 'async',
        staleness: 0,
        maxStaleness: 5,
        apply: (_, due) => (due ? 'applied' : 'none'),
      }),
    );
    expectObservable(out$).toBe('a-b|', { a: 'none', b: 'none' });
  });
});

t.test('pausable holds steps while paused and lets them through on resume', async (t) => {
  scheduler(t).run(({ cold, hot, expectObservable }) => {
    // The gate replays its current value: the pipeline's pause()/resume() drive a BehaviorSubject.
    const paused = new BehaviorSubject(false);
    hot('---t-----f', { f: false, t: true }).subscribe(paused);
    const out$ = cold('a-b--c-d|').pipe(pausable(paused));
    expectObservable(out$).toBe('a-b------(cd|)');
  });
});

t.test('pausable with a BehaviorSubject-like gate: pause(), resume()', async (t) => {
  const gate = new Subject<boolean>();
  const seen: string[] = [];
  const src = new Subject<string>();
  src.pipe(pausable(gate)).subscribe((v) => seen.push(v));
  src.next('a');
  gate.next(false);
  gate.next(true);
  src.next('b');
  t.same(seen, ['a']);
  gate.next(false);
  t.same(seen, ['a', 'b']);
});
