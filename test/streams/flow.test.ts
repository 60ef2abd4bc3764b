import t from 'tap';
import { Subject, lastValueFrom, map, of, toArray } from 'rxjs';
import { BackpressureError, withCredits } from '../../src/streams/backpressure.js';
import { fromAsyncIterable } from '../../src/streams/from-async-iterable.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import { shard } from '../../src/streams/shard.js';
import type { BatchError } from '../../src/streams/step.js';
import { validate } from '../../src/streams/validate.js';
import { scheduler, tinyBatch, tinySpec } from './helpers.js';

t.test('a push source is released one batch per credit', async (t) => {
  scheduler(t).run(({ hot, cold, expectObservable }) => {
    const source = cold('(abcd|)');
    const credits = hot('x----y--y--y', { x: 2, y: 1 });
    expectObservable(withCredits(source, credits, 10)).toBe('(ab)-c--(d|)');
  });
});

t.test('a push source too far ahead errors instead of growing memory', async (t) => {
  scheduler(t).run(({ hot, cold, expectObservable }) => {
    const source = cold('abcd');
    const credits = hot('x', { x: 1 });
    expectObservable(withCredits(source, credits, 2)).toBe(
      'a--#',
      undefined,
      new BackpressureError(
        'the source is more than maxQueued = 2 batches ahead of training; pull it (fromDataset) or slow it down',
      ),
    );
  });
});

t.test('a pulled dataset builds a batch only when credit arrives', async (t) => {
  const built: number[] = [];
  const src = fromDataset(
    (k) => {
      built.push(k);
      return tinyBatch(k);
    },
    { start: 3, end: 8 },
  );
  const credits = new Subject<number>();
  const got: number[] = [];
  let done = false;
  withCredits(src, credits, 1).subscribe({
    next: (b) => got.push(b.id as number),
    complete: () => (done = true),
  });
  t.same(built, [], 'nothing built before demand');
  credits.next(2);
  t.same(built, [3, 4]);
  credits.next(1);
  t.same(got, [3, 4, 5]);
  credits.next(10);
  t.same(got, [3, 4, 5, 6, 7]);
  t.ok(done, 'completes at the end');
  t.same(
    (await lastValueFrom(fromDataset(tinyBatch, { end: 3 }).pipe(toArray()))).map((b) => b.id),
    [0, 1, 2],
    'plain subscription pushes every batch',
  );
  t.throws(() => fromDataset(tinyBatch, { start: 2, end: 1 }), /end must be an integer >= start/);
});

t.test('validate numbers valid batches and routes bad ones to the error channel', async (t) => {
  const errors = new Subject<BatchError>();
  const seen: BatchError[] = [];
  errors.subscribe((e) => seen.push(e));
  scheduler(t).run(({ cold, expectObservable }) => {
    const bad = { ...tinyBatch(9), targets: new Int32Array([0, 5]) };
    const out$ = cold('a-b-c|', { a: tinyBatch(0), b: bad, c: tinyBatch(1) }).pipe(
      validate(tinySpec, errors, () => 10),
    );
    expectObservable(out$.pipe(map((s) => `${s.step}:${s.batch.id}`))).toBe('a---c|', {
      a: '10:0',
      c: '11:1',
    });
  });
  t.same(
    seen.map((e) => [e.step, e.reason, e.id]),
    [[11, 'label_range', 9]],
  );
  t.match(seen[0].message, /targets\[1\] = 5 is not a class label in \[0, 2\)/);
});

t.test('shard splits into the fixed number of shards, in order', async (t) => {
  const big = {
    inputs: new Float32Array(10).map((_, i) => i),
    inputShape: [5, 2],
    targets: new Int32Array([0, 1, 0, 1, 0]),
    targetShape: [5],
  };
  const [s] = await lastValueFrom(of({ step: 0, batch: big }).pipe(shard(3), toArray()));
  t.same(
    s.shards.map((b) => b.inputShape),
    [
      [1, 2],
      [2, 2],
      [2, 2],
    ],
  );
  t.same(Array.from(s.shards[2].inputs), [6, 7, 8, 9]);
  t.same(Array.from(s.shards[1].targets), [1, 0]);
  const [one] = await lastValueFrom(of({ step: 0, batch: big }).pipe(shard(8), toArray()));
  t.equal(one.shards.length, 5, 'never more shards than samples');
});

t.test('an async iterable is pulled one item per credit', async (t) => {
  const produced: number[] = [];
  let closed = false;
  async function* gen() {
    try {
      for (let i = 0; i < 5; i++) {
        produced.push(i);
        yield tinyBatch(i);
      }
    } finally {
      closed = true;
    }
  }
  const credits = new Subject<number>();
  const got: number[] = [];
  let done = false;
  const sub = withCredits(fromAsyncIterable(gen()), credits, 1).subscribe({
    next: (b) => got.push(b.id as number),
    complete: () => (done = true),
  });
  const tick = () => new Promise((r) => setTimeout(r, 5));
  await tick();
  t.same(produced, [], 'nothing read before demand');
  credits.next(2);
  await tick();
  t.same(got, [0, 1]);
  t.ok(produced.length <= 2, `read ${produced.length} items`);
  credits.next(1);
  await tick();
  t.same(got, [0, 1, 2]);
  sub.unsubscribe();
  await tick();
  t.ok(closed, 'an early stop closes the generator');
  t.notOk(done);
  const all: number[] = [];
  const c2 = new Subject<number>();
  await new Promise<void>((resolve) => {
    withCredits(fromAsyncIterable([tinyBatch(7), tinyBatch(8)]), c2, 1).subscribe({
      next: (b) => all.push(b.id as number),
      complete: resolve,
    });
    c2.next(5);
  });
  t.same(all, [7, 8], 'plain iterables too, completing at their end');
});
