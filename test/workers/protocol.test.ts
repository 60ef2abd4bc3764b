import t from 'tap';
import { Errors, WorkerTaskError, deserializeError } from '../../src/workers/errors.js';
import { workerEntry } from '../../src/workers/entry-file.js';
import { decodeHead, encodeHead, serializeError } from '../../src/workers/protocol.js';
import { withRetries } from '../../src/workers/retry.js';

t.test('errors round-trip through their serialized form with name, message, code and stack', async (t) => {
  const e = Errors.StaleParams(3, 2);
  const back = deserializeError(serializeError(e)) as WorkerTaskError;
  t.equal(back.name, 'WorkerTaskError');
  t.equal(back.code, 'ERR_STALE_PARAMS');
  t.equal(back.message, 'task expects parameter version 3, shared buffer holds 2');
  t.equal(back.stack, e.stack);
  const r = deserializeError(serializeError(new RangeError('boom')));
  t.equal(r.name, 'RangeError');
  t.same(serializeError('plain'), { name: 'Error', message: 'plain' });
});

t.test('the entry resolver picks the .ts file and tsx under the sources', async (t) => {
  const e = workerEntry('gradient-worker');
  t.match(e.filename, /src\/workers\/gradient-worker\.ts$/);
  t.same(e.execArgv, ['--import', 'tsx']);
});

t.test('withRetries retries thrown and reported errors, then rethrows the first cause', async (t) => {
  const ok = { error: null, value: 7 };
  let calls = 0;
  const seen: number[] = [];
  const r = await withRetries(
    async (a) => {
      calls++;
      if (a === 0) throw new Error('died');
      if (a === 1) return { error: { name: 'Error', message: 'reported' }, value: 0 };
      return ok;
    },
    2,
    (a) => seen.push(a),
  );
  t.equal(r, ok);
  t.equal(calls, 3);
  t.same(seen, [0, 1]);
  let n = 0;
  await t.rejects(
    withRetries(async () => {
      n++;
      throw new Error(`cause ${n}`);
    }, 1),
    { message: 'cause 1' },
  );
  t.equal(n, 2, 'one try plus one retry');
});

t.test(
  'message heads round-trip through msgpack: nested fields, floats, -0, NaN, large integers',
  async (t) => {
    const head = {
      kind: 'probe',
      estimator: 'hutchinson',
      step: 12,
      seed: 2 ** 40 + 3,
      probes: 1,
      attempt: 0,
      inputShape: [32, 8],
      targetShape: [32],
    };
    t.same(decodeHead(encodeHead(head)), head);
    const reply = {
      shardIndex: 3,
      paramsVersion: 7,
      lossSum: -0,
      nonFinite: false,
      error: serializeError(Errors.StaleParams(7, 6)),
    };
    const back = decodeHead<typeof reply>(encodeHead(reply));
    t.ok(Object.is(back.lossSum, -0), 'a loss of -0 keeps its sign');
    t.same(back.error, reply.error, 'the error payload keeps name, message, stack and code');
    t.equal(back.error.code, 'ERR_STALE_PARAMS');
    t.equal(deserializeError(back.error).stack, reply.error.stack);
    t.notOk('-0' in back, 'the -0 bookkeeping field is removed');
    const floats = { a: 0.1, b: NaN, c: -Infinity, d: 1e-310, e: 0.30000001192092896 };
    const f = decodeHead<typeof floats>(encodeHead(floats));
    for (const k of Object.keys(floats) as (keyof typeof floats)[])
      t.ok(Object.is(f[k], floats[k]), `${k} = ${floats[k]} exactly`);
  },
);

t.test('a head is its own small buffer, and binary arrays are refused', async (t) => {
  const bytes = encodeHead({ step: 1 });
  t.equal(bytes.buffer.byteLength, bytes.length, 'not a view of the encoder’s reused buffer');
  const again = encodeHead({ step: 2 });
  t.same(decodeHead(bytes), { step: 1 }, 'a later encode does not overwrite an earlier head');
  t.same(decodeHead(again), { step: 2 });
  t.throws(() => encodeHead({ grad: new Float32Array(3) }), /field grad is a binary array/);
  t.throws(() => encodeHead({ slot: new SharedArrayBuffer(4) }), /field slot is a binary array/);
  t.throws(() => encodeHead({ '-0': 1 }), /reserved/);
  t.throws(() => decodeHead(new Uint8Array(0)), /non-empty Uint8Array/);
  t.throws(() => decodeHead(encodeHead([1, 2] as unknown as object)), /not an object/);
});
