/** The ingest queue's waiting rule: a waiter asks for a depth, and only a queue that low wakes it. */
import t from 'tap';
import type { Batch } from '../../src/data/batch.js';
import { BatchQueue } from '../../src/daemon/batch-queue.js';
import { lowWaterMark } from '../../src/daemon/socket-server.js';

const batch = {} as Batch;

t.test('whenRoom(depth) resolves only once the queue is down to depth; whenRoom() on any room', async (t) => {
  const q = new BatchQueue(4);
  for (let i = 0; i < 4; i++) t.equal(q.offer(batch), i + 1);
  t.equal(q.offer(batch), null, 'full');
  const woke: string[] = [];
  void q.whenRoom(2).then(() => woke.push('low-water 2'));
  void q.whenRoom().then(() => woke.push('any room'));
  const settle = () => new Promise((r) => setImmediate(r));
  q.take(); // depth 3
  await settle();
  t.same(woke, ['any room'], 'one free slot wakes the plain waiter only');
  t.equal(q.offer(batch), 5, 'an HTTP offer gets the freed slot');
  q.take(); // depth 3
  q.take(); // depth 2
  await settle();
  t.same(woke, ['any room', 'low-water 2'], 'the low-water waiter wakes at depth 2');
  await q.whenRoom(3); // already satisfied: resolves at once
});

t.test('lowWaterMark leaves a quarter of the queue (at least one slot) to other producers', async (t) => {
  t.equal(lowWaterMark(256), 192);
  t.equal(lowWaterMark(4), 3);
  t.equal(lowWaterMark(1), 0);
});
