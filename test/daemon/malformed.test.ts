import { Buffer } from 'node:buffer';
import t from 'tap';
import {
  FrameClient,
  daemonConfig,
  packr,
  postRaw,
  scratchDir,
  spawnDaemon,
  status,
  validBatch,
  weights,
  writeConfig,
} from './fixtures/daemon.js';

const ok = validBatch(2, 0);
const json = (v: unknown): string => JSON.stringify(v);
const JSONT = 'application/json';
const MP = 'application/msgpack';

interface Case {
  name: string;
  path?: string;
  body: string | Uint8Array;
  contentType?: string;
  status: number;
  reason: string;
}

const validMsgpack = packr.pack(ok);

const cases: Case[] = [
  {
    name: 'text/plain content type',
    body: json(ok),
    contentType: 'text/plain',
    status: 415,
    reason: 'content_type',
  },
  { name: 'no content type', body: Buffer.from(json(ok)), status: 415, reason: 'content_type' },
  {
    name: 'application/xml',
    body: '<batch/>',
    contentType: 'application/xml',
    status: 415,
    reason: 'content_type',
  },
  {
    name: 'truncated JSON',
    body: json(ok).slice(0, 30),
    contentType: JSONT,
    status: 400,
    reason: 'malformed_json',
  },
  {
    name: 'garbage JSON',
    body: 'not json at all',
    contentType: JSONT,
    status: 400,
    reason: 'malformed_json',
  },
  { name: 'empty JSON body', body: '', contentType: JSONT, status: 400, reason: 'empty_body' },
  {
    name: '__proto__ key',
    body: '{"__proto__":{"polluted":1},"inputs":[]}',
    contentType: JSONT,
    status: 400,
    reason: 'forbidden_key',
  },
  {
    name: 'nested constructor key',
    body: json({ ...ok, inputs: { constructor: { prototype: 1 } } }),
    contentType: JSONT,
    status: 400,
    reason: 'forbidden_key',
  },
  {
    name: 'deep prototype key',
    body: '{"id":1,"x":[[{"a":{"prototype":2}}]]}',
    contentType: JSONT,
    status: 400,
    reason: 'forbidden_key',
  },
  { name: 'array body', body: '[1,2,3]', contentType: JSONT, status: 400, reason: 'not_object' },
  { name: 'null body', body: 'null', contentType: JSONT, status: 400, reason: 'not_object' },
  { name: 'number body', body: '42', contentType: JSONT, status: 400, reason: 'not_object' },
  {
    name: 'missing inputs',
    body: json({ ...ok, inputs: undefined }),
    contentType: JSONT,
    status: 400,
    reason: 'missing',
  },
  {
    name: 'missing targets',
    body: json({ ...ok, targets: null }),
    contentType: JSONT,
    status: 400,
    reason: 'missing',
  },
  {
    name: 'unknown field',
    body: json({ ...ok, extra: 1 }),
    contentType: JSONT,
    status: 400,
    reason: 'unknown_field',
  },
  {
    name: 'inputs a string',
    body: json({ ...ok, inputs: 'abc' }),
    contentType: JSONT,
    status: 400,
    reason: 'dtype',
  },
  {
    name: 'string element',
    body: json({ ...ok, inputs: ['1', ...ok.inputs.slice(1)] }),
    contentType: JSONT,
    status: 400,
    reason: 'dtype',
  },
  {
    name: 'nested arrays',
    body: json({ ...ok, inputs: [ok.inputs.slice(0, 8), ok.inputs.slice(8)] }),
    contentType: JSONT,
    status: 400,
    reason: 'dtype',
  },
  {
    name: 'Infinity via 1e999',
    body: json(ok)
      .replace('"inputs":[', '"inputs":[1e999,')
      .replace(/,[^,\]]*\],"inputShape"/, '],"inputShape"'),
    contentType: JSONT,
    status: 400,
    reason: 'non_finite',
  },
  {
    name: 'wrong feature dimension',
    body: json({ ...ok, inputs: ok.inputs.slice(0, 14), inputShape: [2, 7] }),
    contentType: JSONT,
    status: 400,
    reason: 'shape',
  },
  {
    name: 'length mismatch',
    body: json({ ...ok, inputs: ok.inputs.slice(0, 15) }),
    contentType: JSONT,
    status: 400,
    reason: 'length',
  },
  {
    name: 'empty batch',
    body: json({ inputs: [], inputShape: [0, 8], targets: [], targetShape: [0] }),
    contentType: JSONT,
    status: 400,
    reason: 'empty',
  },
  {
    name: 'label too large',
    body: json({ ...ok, targets: [0, 3] }),
    contentType: JSONT,
    status: 400,
    reason: 'label_range',
  },
  {
    name: 'negative label',
    body: json({ ...ok, targets: [-1, 0] }),
    contentType: JSONT,
    status: 400,
    reason: 'label_range',
  },
  {
    name: 'huge label',
    body: json({ ...ok, targets: [0, 2 ** 40] }),
    contentType: JSONT,
    status: 400,
    reason: 'label_range',
  },
  {
    name: 'fractional label',
    body: json({ ...ok, targets: [0, 1.5] }),
    contentType: JSONT,
    status: 400,
    reason: 'label_not_integer',
  },
  {
    name: 'targetShape mismatch',
    body: json({ ...ok, targetShape: [3] }),
    contentType: JSONT,
    status: 400,
    reason: 'shape',
  },
  {
    name: 'negative dimension',
    body: json({ ...ok, inputShape: [-2, -8] }),
    contentType: JSONT,
    status: 400,
    reason: 'shape',
  },
  {
    name: 'inputShape not an array',
    body: json({ ...ok, inputShape: '2x8' }),
    contentType: JSONT,
    status: 400,
    reason: 'missing',
  },
  {
    name: 'oversized body',
    body: json({ ...ok, id: 'x'.repeat(20_000) }),
    contentType: JSONT,
    status: 413,
    reason: 'too_large',
  },
  {
    name: 'truncated msgpack',
    body: validMsgpack.subarray(0, validMsgpack.length - 5),
    contentType: MP,
    status: 400,
    reason: 'malformed_msgpack',
  },
  {
    name: 'garbage msgpack',
    body: Uint8Array.from([0xc1, 0xc1, 0xff, 0x00]),
    contentType: MP,
    status: 400,
    reason: 'malformed_msgpack',
  },
  {
    name: 'msgpack trailing bytes',
    body: Buffer.concat([validMsgpack, Buffer.from([1, 2, 3])]),
    contentType: MP,
    status: 400,
    reason: 'malformed_msgpack',
  },
  { name: 'empty msgpack body', body: new Uint8Array(0), contentType: MP, status: 400, reason: 'empty_body' },
  {
    name: 'NaN in a Float32Array',
    body: packr.pack({ ...ok, inputs: Float32Array.from(ok.inputs.map((v, i) => (i === 5 ? NaN : v))) }),
    contentType: MP,
    status: 400,
    reason: 'non_finite',
  },
  {
    name: 'NaN in a float array',
    body: packr.pack({ ...ok, inputs: ok.inputs.map((v, i) => (i === 3 ? NaN : v)) }),
    contentType: MP,
    status: 400,
    reason: 'non_finite',
  },
  {
    name: '-Infinity in msgpack',
    body: packr.pack({ ...ok, inputs: ok.inputs.map((v, i) => (i === 0 ? -Infinity : v)) }),
    contentType: MP,
    status: 400,
    reason: 'non_finite',
  },
  {
    name: 'msgpack record with __proto__',
    body: packr.pack(JSON.parse('{"__proto__":{"polluted":1}}')),
    contentType: MP,
    status: 400,
    reason: 'forbidden_key',
  },
  {
    name: 'msgpack map with __proto__',
    body: packr.pack(new Map<string, unknown>([['__proto__', { polluted: 1 }]])),
    contentType: MP,
    status: 400,
    reason: 'forbidden_key',
  },
  {
    name: 'msgpack nested constructor',
    body: packr.pack(new Map<string, unknown>([['inputs', new Map([['constructor', 1]])]])),
    contentType: MP,
    status: 400,
    reason: 'forbidden_key',
  },
  {
    name: 'float labels (Float32Array targets)',
    body: packr.pack({ ...ok, targets: Float32Array.from(ok.targets) }),
    contentType: MP,
    status: 400,
    reason: 'dtype',
  },
  {
    name: 'non-string map key',
    body: packr.pack(new Map<unknown, unknown>([[1, 2]])),
    contentType: MP,
    status: 400,
    reason: 'bad_key',
  },
  {
    name: 'evaluate with NaN',
    path: '/v1/evaluate',
    body: json(ok)
      .replace('"inputs":[', '"inputs":[-1e999,')
      .replace(/,[^,\]]*\],"inputShape"/, '],"inputShape"'),
    contentType: JSONT,
    status: 400,
    reason: 'non_finite',
  },
  {
    name: 'hyperparams with a string',
    path: '/v1/hyperparams',
    body: '{"lr":"x"}',
    contentType: JSONT,
    status: 400,
    reason: 'bad_value',
  },
  {
    name: 'hyperparams with __proto__',
    path: '/v1/hyperparams',
    body: '{"__proto__":{"lr":1}}',
    contentType: JSONT,
    status: 400,
    reason: 'forbidden_key',
  },
  {
    name: 'unknown route',
    path: '/v1/nope',
    body: '{}',
    contentType: JSONT,
    status: 404,
    reason: 'not_found',
  },
];

t.test('malformed inputs are each rejected with a reason; parameters stay byte-identical', async (t) => {
  const dir = await scratchDir(t);
  const d = await spawnDaemon(t, await writeConfig(dir, daemonConfig(dir)));
  const before = await weights(d.url);
  t.ok(before.length > 0);

  const counts = new Map<string, number>();
  const count = (reason: string): void => void counts.set(reason, (counts.get(reason) ?? 0) + 1);
  for (const c of cases) {
    let r: Response;
    try {
      r = await postRaw(`${d.url}${c.path ?? '/v1/batches'}`, c.body, c.contentType);
    } catch (e) {
      t.fail(`${c.name}: request failed: ${(e as Error).message}`);
      continue;
    }
    const body = (await r.json()) as { error?: string; reason?: string };
    t.equal(r.status, c.status, `${c.name}: status`);
    t.equal(body.reason, c.reason, `${c.name}: reason`);
    t.type(body.error, 'string', `${c.name}: says what is wrong`);
    count(c.reason);
  }

  // The socket: a bad payload is answered and the stream goes on; an oversized frame closes it.
  const c = await FrameClient.connect(d.socketPort);
  t.teardown(() => c.close());
  c.send(Uint8Array.from([0xc1, 0x00, 0x01]));
  c.send(packr.pack({ ...ok, inputs: ok.inputs.map((v, i) => (i === 1 ? NaN : v)) }));
  c.send(packr.pack(JSON.parse('{"constructor":1}')));
  await c.waitFor(() => c.acks.length === 3);
  t.same(
    c.acks.map((a) => a.reason),
    ['malformed_msgpack', 'non_finite', 'forbidden_key'],
    'socket rejections carry reasons',
  );
  t.notOk(c.closed, 'bad payloads do not close the connection');
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(1_000_000, 0);
  c.socket.write(huge);
  await c.waitFor(() => c.closed && c.acks.length === 4);
  t.equal(c.acks[3].reason, 'frame_too_large', 'oversized frame rejected');
  for (const reason of ['malformed_msgpack', 'non_finite', 'forbidden_key', 'frame_too_large']) count(reason);

  t.ok(cases.length + 4 >= 30, `${cases.length + 4} kinds of malformed input`);

  // still serving, nothing applied
  const s = await status(d.url);
  t.equal(s.step, 0);
  t.equal(s.queueDepth, 0);
  t.equal(s.nextSeq, 1, 'no batch was accepted');
  const after = await weights(d.url);
  t.ok(after.equals(before), 'parameters are byte-identical');

  const metrics = await (await fetch(`${d.url}/metrics`)).text();
  for (const [reason, n] of counts) {
    t.match(
      metrics,
      new RegExp(`^hessflow_rejected_inputs_total\\{reason="${reason}"\\} ${n}$`, 'm'),
      `counted: ${reason}`,
    );
  }
  t.match(metrics, /^hessflow_steps_total 0$/m);
  t.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);

  // and a valid batch is still accepted afterwards
  const r = await postRaw(`${d.url}/v1/batches`, JSON.stringify(ok), JSONT);
  t.equal(r.status, 200);
});
