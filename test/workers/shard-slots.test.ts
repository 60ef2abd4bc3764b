import t from 'tap';
import type { Batch } from '../../src/data/batch.js';
import { ShardSlots, readSlot, writeResult } from '../../src/workers/shard-slots.js';

function shard(rows: number, floatTargets = false): Batch {
  const inputs = Float32Array.from({ length: rows * 3 }, (_, i) => i + 0.5);
  const targets = floatTargets
    ? Float32Array.from({ length: rows }, (_, i) => -i - 0.25)
    : Int32Array.from({ length: rows }, (_, i) => i % 3);
  return { inputs, inputShape: [rows, 3], targets, targetShape: [rows] };
}

t.test('a slot holds the shard: the worker reads back the same values and kinds', async (t) => {
  const slots = new ShardSlots(5);
  for (const floatTargets of [false, true]) {
    const s = shard(4, floatTargets);
    const filled = slots.acquire(0, s);
    const { inputs, targets } = readSlot(filled.buffer, filled);
    t.same(Array.from(inputs), Array.from(s.inputs));
    t.same(Array.from(targets), Array.from(s.targets));
    t.equal(targets.constructor, s.targets.constructor, `targets stay ${s.targets.constructor.name}`);
    filled.release();
  }
  const tokens: Batch = { ...shard(2), inputs: Int32Array.from([5, 6, 7, 8, 9, 10]) };
  const f = slots.acquire(1, tokens);
  t.ok(readSlot(f.buffer, f).inputs instanceof Int32Array, 'token ids stay Int32Array');
});

t.test('a released slot is reused; a held one is never overwritten; a larger shard grows it', async (t) => {
  const slots = new ShardSlots(5);
  const a = slots.acquire(2, shard(4));
  const held = slots.acquire(2, shard(2));
  t.not(held.buffer, a.buffer, 'a second task of a busy index gets its own buffer');
  t.same(Array.from(readSlot(a.buffer, a).inputs), Array.from(shard(4).inputs), 'first task intact');
  held.release();
  a.release();
  const b = slots.acquire(2, shard(3));
  t.equal(b.buffer, a.buffer, 'reused once released');
  b.release();
  const c = slots.acquire(2, shard(40));
  t.not(c.buffer, a.buffer, 'grown for a larger shard');
  t.same(Array.from(readSlot(c.buffer, c).inputs), Array.from(shard(40).inputs));
});

t.test('bad input is named', async (t) => {
  const slots = new ShardSlots(5);
  t.throws(() => slots.acquire(-1, shard(1)), /shard index must be an integer >= 0, got -1/);
  const f64 = { ...shard(1), inputs: new Float64Array(3) } as unknown as Batch;
  t.throws(() => slots.acquire(0, f64), /Float32Array or Int32Array, got Float64Array/);
  const f = slots.acquire(0, shard(1));
  t.throws(() => readSlot(f.buffer, { ...f, inputLength: 1000 }), /cannot hold 1000 inputs and 1 targets/);
});

t.test('the worker writes its gradient into the result part, which is reused per shard index', async (t) => {
  const slots = new ShardSlots(3);
  const a = slots.acquire(0, shard(2));
  t.equal(a.result.byteLength, 12, 'room for the parameter count');
  t.ok(writeResult(a.result, Float32Array.from([1.5, -2, 3])));
  t.same(Array.from(new Float32Array(a.result)), [1.5, -2, 3]);
  t.notOk(writeResult(a.result, new Float32Array(4)), 'a gradient that does not fit is refused');
  a.release();
  const b = slots.acquire(0, shard(2));
  t.equal(b.result, a.result, 'the same result buffer for the next task of the index');
  const c = slots.acquire(0, shard(2));
  t.not(c.result, b.result, 'a concurrent task of the index writes elsewhere');
  t.throws(() => new ShardSlots(-1), /resultLength must be an integer >= 0, got -1/);
});
