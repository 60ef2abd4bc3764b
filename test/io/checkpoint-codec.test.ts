import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import t from 'tap';
import {
  CHECKPOINT_HEADER_BYTES,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
  type CheckpointData,
} from '../../src/io/index.js';

function sample(): CheckpointData {
  // Special values must survive bit for bit: NaN, −0, ±Infinity, a subnormal.
  const params = Float32Array.from([1.5, -0, NaN, Infinity, -Infinity, 1e-45, 3.25, -7, 0.1, 42]);
  return {
    params,
    layout: [
      { name: '0.weight', shape: [2, 3], offset: 0, tags: ['weight'] },
      { name: '0.bias', shape: [2], offset: 6, tags: ['bias', 'no_decay'] },
      { name: 'scale', shape: [], offset: 8, tags: [] },
    ],
    optimizerState: {
      count: 12,
      mu: Float32Array.from([0.5, -0.25, 0, 1, 2, 3, 4, 5, 6, 7]),
      nu: Float64Array.from([1e-300, 2]),
      ring: Int32Array.from([3, -1]),
      inner: [{ h: new Float32Array(3) }, { lr: 1e-4, schedule: 'cosine' }],
    },
    step: 1234,
    meta: { model: 'mlp', seed: 7, createdBy: 'test' },
  };
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

function reasonOf(bytes: Uint8Array): string {
  try {
    decodeCheckpoint(bytes);
  } catch (e) {
    if (e instanceof CheckpointError) return e.reason;
    throw e;
  }
  return 'decoded';
}

/** A container around an arbitrary payload, with a correct checksum, to reach the payload checks. */
function wrap(payload: Uint8Array): Uint8Array {
  const valid = encodeCheckpoint(sample());
  const out = new Uint8Array(CHECKPOINT_HEADER_BYTES + payload.length);
  out.set(valid.subarray(0, 16));
  new DataView(out.buffer).setBigUint64(16, BigInt(payload.length), true);
  out.set(createHash('sha256').update(payload).digest(), 24);
  out.set(payload, CHECKPOINT_HEADER_BYTES);
  return out;
}

t.test('round trip: typed arrays keep their class and bits', async (t) => {
  const data = sample();
  const bytes = encodeCheckpoint(data);
  const back = decodeCheckpoint(bytes);
  t.equal(back.format, 'hessflow-checkpoint');
  t.equal(back.version, 1);
  t.equal(back.step, 1234);
  t.strictSame(back.meta, data.meta);
  t.strictSame(back.layout, data.layout);
  t.ok(back.params instanceof Float32Array);
  t.ok(sameBits(back.params, data.params), 'params bit-identical (NaN, −0, Inf, subnormal)');
  t.ok(Object.is(back.params[1], -0));
  const s = back.optimizerState as ReturnType<typeof sample>['optimizerState'] & Record<string, unknown>;
  const orig = data.optimizerState as typeof s;
  t.ok(s.mu instanceof Float32Array && s.nu instanceof Float64Array && s.ring instanceof Int32Array);
  t.strictSame(Array.from(s.mu as Float32Array), Array.from(orig.mu as Float32Array));
  t.equal((s.nu as Float64Array)[0], 1e-300);
  t.strictSame(Array.from(s.ring as Int32Array), [3, -1]);
  t.ok((s.inner as Array<{ h: unknown }>)[0].h instanceof Float32Array);
  t.strictSame((s.inner as unknown[])[1], { lr: 1e-4, schedule: 'cosine' });
});

t.test('header layout: magic, version, flags, payload length, SHA-256 of the payload', async (t) => {
  const bytes = encodeCheckpoint(sample());
  t.strictSame(Array.from(bytes.subarray(0, 8)), [0x89, 0x48, 0x46, 0x43, 0x4b, 0x50, 0x54, 0x0a]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  t.equal(view.getUint32(8, true), 1);
  t.equal(view.getUint32(12, true), 0);
  t.equal(Number(view.getBigUint64(16, true)), bytes.length - 56);
  const payload = bytes.subarray(56);
  t.strictSame(Buffer.from(bytes.subarray(24, 56)), createHash('sha256').update(payload).digest());
  // The payload is plain msgpack that another Packr with the documented options reads.
  const body = new Packr({ moreTypes: true, structuredClone: true }).unpack(payload) as { step: number };
  t.equal(body.step, 1234);
});

t.test('params on a SharedArrayBuffer encode like ordinary ones', async (t) => {
  const data = sample();
  const shared = new Float32Array(new SharedArrayBuffer(data.params.byteLength));
  shared.set(data.params);
  const back = decodeCheckpoint(encodeCheckpoint({ ...data, params: shared }));
  t.ok(sameBits(back.params, data.params));
});

t.test('every single flipped byte is detected, with the right reason', async (t) => {
  const bytes = encodeCheckpoint(sample());
  const reasons = new Map<string, number>();
  for (let i = 0; i < bytes.length; i++) {
    const bad = Uint8Array.from(bytes);
    bad[i] ^= 0x01;
    const r = reasonOf(bad);
    reasons.set(r, (reasons.get(r) ?? 0) + 1);
    if (i < 8) t.equal(r, 'bad_magic', `byte ${i}`);
    else if (i < 12) t.equal(r, 'unsupported_version', `byte ${i}`);
    else if (i < 16) t.equal(r, 'bad_header', `byte ${i}`);
    else if (i >= 24) t.equal(r, 'checksum_mismatch', `byte ${i}`);
  }
  t.notOk(reasons.has('decoded'), `no corrupted copy decodes (${[...reasons].join(' ')})`);
  const lengthFlip = Uint8Array.from(bytes);
  lengthFlip[16] ^= 0x01;
  t.ok(['truncated', 'trailing_data'].includes(reasonOf(lengthFlip)));
  t.throws(() => decodeCheckpoint(Uint8Array.from(bytes, (b, i) => (i === 100 ? b ^ 0xff : b))), {
    name: 'CheckpointError',
    message: /checksum mismatch: payload SHA-256 is [0-9a-f]{64}, the header records [0-9a-f]{64}/,
  });
});

t.test('truncation at any length, and trailing bytes, are detected', async (t) => {
  const bytes = encodeCheckpoint(sample());
  let undetected = 0;
  for (let len = 0; len < bytes.length; len++)
    if (reasonOf(bytes.subarray(0, len)) !== 'truncated') undetected++;
  t.equal(undetected, 0, 'every prefix reads as truncated');
  t.throws(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 10)), {
    message: /truncated: the header declares \d+ payload bytes but only \d+ follow/,
  });
  const longer = new Uint8Array(bytes.length + 3);
  longer.set(bytes);
  t.equal(reasonOf(longer), 'trailing_data');
  t.equal(
    reasonOf(Buffer.from('PK\x03\x04 a zip file, not a checkpoint at all.........................')),
    'bad_magic',
  );
});

t.test('a checksummed payload that is not msgpack, or not a checkpoint, is rejected', async (t) => {
  t.equal(reasonOf(wrap(Uint8Array.from([0x92, 0x01]))), 'malformed');
  const packr = new Packr({ moreTypes: true, structuredClone: true });
  t.equal(reasonOf(wrap(packr.pack({ format: 'something-else', version: 1 }))), 'invalid');
  const body = { ...sample(), format: 'hessflow-checkpoint', version: 1 };
  t.equal(reasonOf(wrap(packr.pack(body))), 'decoded', 'the wrapper itself is sound');
  t.equal(reasonOf(wrap(packr.pack({ ...body, params: Array.from(body.params) }))), 'invalid');
  t.throws(() => decodeCheckpoint(wrap(packr.pack({ ...body, step: -1 }))), {
    reason: 'invalid',
    message: /step/,
  });
  const outside = { ...body, layout: [{ name: 'w', shape: [11], offset: 0, tags: [] }] };
  t.throws(() => decodeCheckpoint(wrap(packr.pack(outside))), {
    reason: 'invalid',
    message: /layout 'w' spans \[0, 11\) but the parameter vector has 10 elements/,
  });
});

t.test('encode refuses a checkpoint it could not read back', async (t) => {
  const data = sample();
  t.throws(() => encodeCheckpoint({ ...data, layout: [...data.layout, { ...data.layout[0] }] }), {
    reason: 'invalid',
    message: /name '0.weight' twice/,
  });
  t.throws(
    () =>
      encodeCheckpoint({
        ...data,
        layout: [
          { name: 'a', shape: [6], offset: 0, tags: [] },
          { name: 'b', shape: [2], offset: 5, tags: [] },
        ],
      }),
    { message: /'a' and 'b' overlap/ },
  );
  t.throws(() => encodeCheckpoint({ ...data, step: 1.5 }), {
    reason: 'invalid',
    message: /step must be a non-negative integer/,
  });
});

t.test('save / load through the file system; errors name the file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hessflow-ckpt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'step-1234.ckpt');
  await saveCheckpoint(path, sample());
  const back = await loadCheckpoint(path);
  t.ok(sameBits(back.params, sample().params));
  t.equal(back.step, 1234);
  const bytes = await readFile(path);
  await writeFile(path, bytes.subarray(0, bytes.length - 1));
  await t.rejects(loadCheckpoint(path), {
    reason: 'truncated',
    message: new RegExp(`^checkpoint ${path}: truncated`),
  });
});
