/** The ingest queue's waiting rule: waiting producers get every other freed slot, so HTTP gets the rest. */
import t from 'tap';
import type { Batch } from '../../src/data/batch.js';
import { BatchQueue } from '../../src/daemon/batch-queue.js';

const batch = {} as Batch;
const settle = () => new Promise((r) => setImmediate(r));

t.test('a waiter is woken on every other freed slot; the slot in between stays open', async (t) => {
  const q = new BatchQueue(2);
  t.equal(q.offer(batch), 1);
  t.equal(q.offer(batch), 2);
  t.equal(q.offer(batch), null, 'full');
  let woken = 0;
  const wait = () => void q.whenRoom().then(() => woken++);

  wait();
  q.take();
  await settle();
  t.equal(woken, 1, 'the first freed slot wakes the waiter');
  t.equal(q.offer(batch), 3, 'which refills it');

  wait();
  q.take();
  await settle();
  t.equal(woken, 1, 'the next freed slot is left to a producer that does not wait');
  t.equal(q.offer(batch), 4, 'an HTTP offer takes it');

  q.take();
  await settle();
  t.equal(woken, 2, 'and the one after wakes the waiter again');
  t.equal(q.depth, 1);
});

t.test('with nobody taking the left slot, the waiter gets both at the next wake', async (t) => {
  const q = new BatchQueue(2);
  q.offer(batch);
  q.offer(batch);
  let woken = 0;
  void q.whenRoom().then(() => woken++);
  q.take();
  await settle();
  q.offer(batch); // the woken socket refills
  void q.whenRoom().then(() => woken++);
  q.take(); // left open, nobody takes it
  q.take();
  await settle();
  t.equal(woken, 2);
  t.equal(q.depth, 0, 'two free slots for the waiter');
  await q.whenRoom(); // room: resolves at once
});
