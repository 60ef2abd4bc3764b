import t from 'tap';
import { Errors, WorkerTaskError, deserializeError } from '../../src/workers/errors.js';
import { workerEntry } from '../../src/workers/entry-file.js';
import { serializeError } from '../../src/workers/protocol.js';
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
