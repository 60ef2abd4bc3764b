import t from 'tap';
import {
  SafetensorsError,
  decodeSafetensors,
  encodeSafetensors,
  paramsFromSafetensors,
  paramsToSafetensors,
  safetensorsToFloat32,
} from '../../src/io/index.js';
import { rng } from '../../src/random/counter-rng.js';

/** A file from its parts, exactly as the spec lays it out: u64 LE header length, header, data. */
function file(header: string, data: number[], pad = true): Uint8Array {
  const json = Buffer.from(header, 'utf8');
  const n = pad ? Math.ceil(json.length / 8) * 8 : json.length;
  const out = new Uint8Array(8 + n + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  out.set(data, 8 + n);
  return out;
}

function reasonOf(bytes: Uint8Array): string {
  try {
    decodeSafetensors(bytes);
  } catch (e) {
    if (e instanceof SafetensorsError) return e.reason;
    throw e;
  }
  return 'decoded';
}

const tensorJson = (name: string, dtype: string, shape: number[], begin: number, end: number): string =>
  `"${name}":{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${begin},${end}]}`;

t.test('the writer produces the spec bytes, byte for byte', async (t) => {
  const header =
    '{"__metadata__":{"format":"pt"},' +
    '"fc.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
    '"fc.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[4,20]}}';
  t.equal(header.length, 155);
  // prettier-ignore
  const expected = [
    // N = 160 = 155 bytes of JSON + 5 spaces of padding, u64 little-endian
    0xa0, 0, 0, 0, 0, 0, 0, 0,
    ...Buffer.from(header, 'utf8'),
    0x20, 0x20, 0x20, 0x20, 0x20,
    // fc.bias: −0.5
    0x00, 0x00, 0x00, 0xbf,
    // fc.weight: 1, −2, 1.5, 0.25 (row-major)
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x80, 0x3e,
  ];
  // Given in the "wrong" order: the writer sorts names like the reference implementation.
  const bytes = encodeSafetensors(
    {
      'fc.weight': { shape: [2, 2], data: Float32Array.from([1, -2, 1.5, 0.25]) },
      'fc.bias': { shape: [1], data: Float32Array.from([-0.5]) },
    },
    { format: 'pt' },
  );
  t.equal(bytes.length, 188);
  t.strictSame(Array.from(bytes), expected);
  t.equal((8 + 160) % 8, 0, 'data starts 8-byte aligned');
});

t.test('the reader parses a hand-built file, whatever its key order and padding', async (t) => {
  // Tensors listed in reverse data order, metadata last, no padding: all allowed by the spec.
  const header = `{${tensorJson('b', 'F32', [2], 8, 16)},${tensorJson('a', 'F32', [1, 2], 0, 8)},"__metadata__":{"k":"v"}}`;
  const bytes = file(header, [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 0, 0, 0xc0, 0x3f, 0, 0, 0x80, 0x3e], false);
  const f = decodeSafetensors(bytes);
  t.strictSame(f.metadata, { k: 'v' });
  t.strictSame([...f.tensors.keys()], ['a', 'b'], 'in data order');
  t.strictSame(f.tensors.get('a')!.shape, [1, 2]);
  t.strictSame(f.tensors.get('b')!.dataOffsets, [8, 16]);
  t.strictSame(Array.from(safetensorsToFloat32(f.tensors.get('a')!)), [1, -2]);
  t.strictSame(Array.from(safetensorsToFloat32(f.tensors.get('b')!)), [1.5, 0.25]);
  t.equal(decodeSafetensors(file('{}', [])).tensors.size, 0, 'an empty file is valid');
  t.equal(decodeSafetensors(file('{}', [])).metadata, null);
});

t.test('F16, BF16, F64 and unaligned F32 convert to float32', async (t) => {
  const header = `{${[
    tensorJson('u8', 'U8', [1], 0, 1),
    tensorJson('f32', 'F32', [1], 1, 5),
    tensorJson('f16', 'F16', [4], 5, 13),
    tensorJson('bf16', 'BF16', [2], 13, 17),
    tensorJson('f64', 'F64', [1], 17, 25),
  ].join(',')}}`;
  const f64 = Buffer.alloc(8);
  f64.writeDoubleLE(0.1);
  const data = [
    9,
    ...[0x00, 0x00, 0x20, 0x41], // 10.0f at byte offset 1 (unaligned)
    ...[0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00], // f16: 1, −2, 65504, 2^−24
    ...[0x80, 0x3f, 0x40, 0xc0], // bf16: 1, −3
    ...f64,
  ];
  const ts = decodeSafetensors(file(header, data)).tensors;
  t.strictSame(Array.from(safetensorsToFloat32(ts.get('f32')!)), [10]);
  t.strictSame(Array.from(safetensorsToFloat32(ts.get('f16')!)), [1, -2, 65504, 2 ** -24]);
  t.strictSame(Array.from(safetensorsToFloat32(ts.get('bf16')!)), [1, -3]);
  t.strictSame(Array.from(safetensorsToFloat32(ts.get('f64')!)), [Math.fround(0.1)]);
  t.throws(() => safetensorsToFloat32(ts.get('u8')!, 'u8'), {
    reason: 'unsupported_dtype',
    message: /dtype U8/,
  });
});

t.test('each malformed file is rejected with its reason', async (t) => {
  const ok = `{${tensorJson('w', 'F32', [2], 0, 8)}}`;
  const eight = [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40];
  t.equal(reasonOf(file(ok, eight)), 'decoded');
  t.equal(reasonOf(Uint8Array.from([1, 2, 3])), 'truncated');
  const huge = file(ok, eight);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
  t.equal(reasonOf(huge), 'header_too_large');
  const past = file(ok, eight);
  new DataView(past.buffer).setBigUint64(0, BigInt(past.length), true);
  t.equal(reasonOf(past), 'truncated');
  t.equal(reasonOf(file(` ${ok}`, eight)), 'bad_header', 'must start with {');
  t.equal(reasonOf(file('{"w":', eight)), 'bad_header', 'not JSON');
  t.equal(reasonOf(file('[1,2]', eight)), 'bad_header');
  const badUtf8 = file('{"w":"xx"}', []);
  badUtf8[8 + 6] = 0xff;
  t.equal(reasonOf(badUtf8), 'bad_header', 'not UTF-8');
  t.equal(reasonOf(file(`{"__metadata__":{"n":1},${ok.slice(1)}`, eight)), 'bad_metadata');
  t.equal(reasonOf(file(`{${tensorJson('w', 'F33', [2], 0, 8)}}`, eight)), 'bad_tensor');
  t.equal(reasonOf(file(`{${tensorJson('w', 'F32', [2.5], 0, 8)}}`, eight)), 'bad_tensor');
  t.equal(reasonOf(file(`{${tensorJson('w', 'F32', [2], 8, 0)}}`, eight)), 'bad_tensor');
  t.equal(reasonOf(file('{"w":{"dtype":"F32","shape":[2]}}', eight)), 'bad_tensor');
  t.throws(() => decodeSafetensors(file(`{${tensorJson('w', 'F32', [3], 0, 8)}}`, eight)), {
    reason: 'size_mismatch',
    tensor: 'w',
    message: /tensor 'w' \(F32 \[3\]\) needs 12 bytes but data_offsets \[0, 8\] span 8/,
  });
  const twoTensors = (a: [number, number], b: [number, number], data: number[]) =>
    file(`{${tensorJson('a', 'F32', [1], ...a)},${tensorJson('b', 'F32', [1], ...b)}}`, data);
  t.throws(() => decodeSafetensors(twoTensors([0, 4], [8, 12], new Array(12).fill(0))), {
    reason: 'bad_offsets',
    message: /'b' starts at byte 8 and leaves a gap of 4 bytes/,
  });
  t.throws(() => decodeSafetensors(twoTensors([0, 4], [2, 6], new Array(6).fill(0))), {
    reason: 'bad_offsets',
    message: /overlaps the previous tensor/,
  });
  t.equal(reasonOf(twoTensors([4, 8], [8, 12], new Array(12).fill(0))), 'bad_offsets', 'hole at the start');
  t.throws(() => decodeSafetensors(file(ok, [...eight, 1, 2, 3])), {
    reason: 'bad_offsets',
    message: /3 bytes after the last tensor are not covered/,
  });
  t.equal(reasonOf(file(ok, eight.slice(0, 6))), 'truncated');
  // Garbage: no random buffer passes for a safetensors file.
  const r = rng(3, 'safetensors-garbage');
  let decoded = 0;
  for (let i = 0; i < 200; i++) {
    const junk = Uint8Array.from({ length: 16 + r.int(200) }, () => r.int(256));
    if (i % 2 === 0) new DataView(junk.buffer).setBigUint64(0, BigInt(r.int(junk.length)), true);
    if (reasonOf(junk) === 'decoded') decoded++;
  }
  t.equal(decoded, 0);
});

t.test('writer rejects inconsistent input', async (t) => {
  t.throws(() => encodeSafetensors({ w: { shape: [3], data: new Float32Array(2) } }), {
    reason: 'size_mismatch',
    message: /has 2 values but shape \[3\] needs 3/,
  });
  t.throws(() => encodeSafetensors({ __metadata__: { shape: [1], data: new Float32Array(1) } }), {
    reason: 'bad_tensor',
    message: /reserved/,
  });
  t.throws(
    () =>
      encodeSafetensors([
        ['a', { shape: [1], data: new Float32Array(1) }],
        ['a', { shape: [1], data: new Float32Array(1) }],
      ]),
    { message: /given twice/ },
  );
});

t.test('parameters ⇄ safetensors with PyTorch-style keys round-trip bit for bit', async (t) => {
  // An MLP 3-4-2 laid out in one flat vector, Linear weights [out, in] as in a PyTorch state_dict.
  const layout = [
    { name: '0.weight', shape: [4, 3], offset: 0, tags: ['weight'] },
    { name: '0.bias', shape: [4], offset: 12, tags: ['bias'] },
    { name: '2.weight', shape: [2, 4], offset: 16, tags: ['weight'] },
    { name: '2.bias', shape: [2], offset: 24, tags: ['bias'] },
  ];
  const params = rng(1, 'params').fillNormal(new Float32Array(26));
  params[5] = -0;
  const bytes = paramsToSafetensors(params, layout, { format: 'pt' });
  const f = decodeSafetensors(bytes);
  t.strictSame([...f.tensors.keys()], ['0.bias', '0.weight', '2.bias', '2.weight']);
  t.strictSame(f.tensors.get('2.weight')!.shape, [2, 4]);
  t.strictSame(f.metadata, { format: 'pt' });
  const back = paramsFromSafetensors(bytes, layout);
  t.ok(Buffer.from(back.buffer).equals(Buffer.from(params.buffer)), 'bit-identical');
  const into = new Float32Array(new SharedArrayBuffer(26 * 4));
  t.equal(paramsFromSafetensors(bytes, layout, into), into);
  t.strictSame(Array.from(into), Array.from(params));

  const sentinel = new Float32Array(26).fill(7);
  const wrongShape = layout.map((e) => (e.name === '2.weight' ? { ...e, shape: [4, 2] } : e));
  t.throws(() => paramsFromSafetensors(bytes, wrongShape, sentinel), {
    reason: 'size_mismatch',
    message: /'2.weight' has shape \[2, 4\], the model expects \[4, 2\]/,
  });
  t.throws(() =>
    paramsFromSafetensors(bytes, [...layout, { name: 'extra', shape: [1], offset: 25, tags: [] }], sentinel),
  );
  t.throws(() => paramsFromSafetensors(bytes, layout.slice(0, 3), sentinel), {
    message: /unexpected tensors '2.bias'/,
  });
  t.ok(
    sentinel.every((v) => v === 7),
    'params untouched after a failed import',
  );
  const partial = paramsFromSafetensors(bytes, layout.slice(0, 2), undefined, { strict: false });
  t.strictSame(Array.from(partial), Array.from(params.subarray(0, 16)));
  const renamed = layout.map((e) => ({ ...e, name: `model.${e.name}` }));
  t.throws(() => paramsFromSafetensors(bytes, renamed), { message: /missing tensors 'model.0.weight'/ });
});
