/**
 * The safetensors format (huggingface/safetensors), so weights move to and from PyTorch:
 *
 *   [8 bytes: N, u64 little-endian] [N bytes: UTF-8 JSON header] [data buffer]
 *
 * The header maps tensor names to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to
 * the data buffer) plus an optional `"__metadata__"` object of string → string. The writer pads the header
 * with spaces to a multiple of 8 bytes and lays tensors out in the reference writer's order (by name, all
 * F32 here), so for the same tensors it produces the bytes `safetensors.torch.save_file` produces.
 *
 * The reader enforces the reference implementation's rules — header starts with `{`, known dtypes, each
 * tensor's byte size equal to its shape × dtype size, and the tensors tiling the data buffer exactly (no
 * holes, no overlaps, nothing after the last one) — and rejects anything else with a SafetensorsError that
 * says which rule failed and for which tensor.
 */
import { endianness } from 'node:os';

export type SafetensorsDType =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'F8_E5M2'
  | 'F8_E4M3'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64';

/** Bytes per element of each dtype the format defines. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDType, number>> = Object.freeze({
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
});

/** The reference implementation's limit; larger "headers" are almost surely garbage (or an attack). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

export type SafetensorsErrorReason =
  | 'truncated'
  | 'header_too_large'
  | 'bad_header'
  | 'bad_metadata'
  | 'bad_tensor'
  | 'size_mismatch'
  | 'bad_offsets'
  | 'unsupported_dtype';

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  constructor(
    readonly reason: SafetensorsErrorReason,
    message: string,
    /** The tensor concerned, when there is one. */
    readonly tensor: string | null = null,
  ) {
    super(message);
  }
}

/** A tensor to write: float32 data, row-major, `shape` elements. */
export interface SafetensorsInput {
  shape: readonly number[];
  data: Float32Array;
}

/** A tensor read from a file. `bytes` is a view into the file's bytes (little-endian, possibly unaligned). */
export interface SafetensorsEntry {
  dtype: SafetensorsDType;
  shape: number[];
  dataOffsets: [number, number];
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  /** In data-offset order. */
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string> | null;
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE';
const METADATA_KEY = '__metadata__';

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Byte-wise UTF-8 order, as the reference writer (Rust `String` ordering) sorts names. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Float32 values as little-endian bytes (a copy). */
function float32ToLE(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } else {
    const view = new DataView(out.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  }
  return out;
}

/**
 * Encodes float32 tensors as a safetensors file. `metadata` values must be strings (the format allows
 * nothing else there). Names are written in byte order of their UTF-8 form, as the reference writer does.
 */
export function encodeSafetensors(
  tensors: Iterable<[string, SafetensorsInput]> | Record<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = Symbol.iterator in tensors ? [...tensors] : Object.entries(tensors);
  const seen = new Set<string>();
  for (const [name, t] of entries) {
    if (name === METADATA_KEY)
      throw new SafetensorsError(
        'bad_tensor',
        `'${METADATA_KEY}' is reserved and cannot name a tensor`,
        name,
      );
    if (seen.has(name)) throw new SafetensorsError('bad_tensor', `tensor '${name}' given twice`, name);
    seen.add(name);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(
        'bad_tensor',
        `tensor '${name}' has an invalid shape [${t.shape.join(', ')}]`,
        name,
      );
    }
    if (!(t.data instanceof Float32Array))
      throw new SafetensorsError('unsupported_dtype', `tensor '${name}' must be a Float32Array`, name);
    if (elementCount(t.shape) !== t.data.length) {
      throw new SafetensorsError(
        'size_mismatch',
        `tensor '${name}' has ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${elementCount(t.shape)}`,
        name,
      );
    }
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string')
        throw new SafetensorsError('bad_metadata', `__metadata__['${k}'] must be a string, got ${typeof v}`);
    }
  }
  entries.sort((a, b) => compareUtf8(a[0], b[0]));

  // JSON key order: __metadata__ first, then tensors in data order (as the reference writer emits them).
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const end = offset + t.data.length * 4;
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, end] };
    offset = end;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const [, t] of entries) {
    out.set(float32ToLE(t.data), at);
    at += t.data.length * 4;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Parses and validates a safetensors file. Tensor bytes are views into `bytes`, not copies. */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) {
    throw new SafetensorsError(
      'truncated',
      `safetensors: ${bytes.length} bytes is shorter than the 8-byte header length`,
    );
  }
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      'header_too_large',
      `safetensors: header length ${n64} exceeds the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`,
    );
  }
  const n = Number(n64);
  if (8 + n > bytes.length) {
    throw new SafetensorsError(
      'truncated',
      `safetensors: header length ${n} runs past the end of the ${bytes.length}-byte file`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new SafetensorsError('bad_header', 'safetensors: header is not valid UTF-8');
  }
  if (!text.startsWith('{'))
    throw new SafetensorsError('bad_header', "safetensors: header does not start with '{'");
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(
      'bad_header',
      `safetensors: header is not valid JSON (${(e as Error).message})`,
    );
  }
  if (!isPlainObject(header))
    throw new SafetensorsError('bad_header', 'safetensors: header is not a JSON object');

  let metadata: Record<string, string> | null = null;
  const found: Array<[string, SafetensorsDType, number[], number, number]> = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) {
      if (!isPlainObject(info) || !Object.values(info).every((v) => typeof v === 'string')) {
        throw new SafetensorsError(
          'bad_metadata',
          'safetensors: __metadata__ must be an object of string values',
        );
      }
      metadata = info as Record<string, string>;
      continue;
    }
    const bad = (msg: string): never => {
      throw new SafetensorsError('bad_tensor', `safetensors: tensor '${name}': ${msg}`, name);
    };
    if (!isPlainObject(info)) bad('entry is not an object');
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPE_BYTES, dtype))
      bad(`unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      bad('shape must be an array of non-negative integers');
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      bad('data_offsets must be [begin, end] with 0 <= begin <= end');
    }
    const [begin, end] = offsets as [number, number];
    const want = elementCount(shape as number[]) * SAFETENSORS_DTYPE_BYTES[dtype as SafetensorsDType];
    if (end - begin !== want) {
      throw new SafetensorsError(
        'size_mismatch',
        `safetensors: tensor '${name}' (${dtype} [${(shape as number[]).join(', ')}]) needs ${want} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
        name,
      );
    }
    found.push([name, dtype as SafetensorsDType, shape as number[], begin, end]);
  }

  // The tensors must tile the data buffer exactly: this rejects hidden bytes (polyglot files) and overlaps.
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  found.sort((a, b) => a[3] - b[3] || a[4] - b[4]);
  let cursor = 0;
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, dtype, shape, begin, end] of found) {
    if (begin !== cursor) {
      const what =
        begin > cursor ? `leaves a gap of ${begin - cursor} bytes before it` : 'overlaps the previous tensor';
      throw new SafetensorsError(
        'bad_offsets',
        `safetensors: tensor '${name}' starts at byte ${begin} and ${what} (expected start ${cursor})`,
        name,
      );
    }
    if (end > dataLength) {
      throw new SafetensorsError(
        'truncated',
        `safetensors: tensor '${name}' ends at byte ${end} but the data buffer has ${dataLength} bytes (file truncated?)`,
        name,
      );
    }
    tensors.set(name, {
      dtype,
      shape,
      dataOffsets: [begin, end],
      bytes: bytes.subarray(dataStart + begin, dataStart + end),
    });
    cursor = end;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(
      'bad_offsets',
      `safetensors: ${dataLength - cursor} bytes after the last tensor are not covered by any tensor`,
    );
  }
  return { tensors, metadata };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * A tensor's values as a new Float32Array (copied: the file bytes need not be 4-byte aligned). Reads F32
 * exactly and widens F16/BF16 or narrows F64, so half-precision PyTorch exports import too.
 */
export function safetensorsToFloat32(entry: SafetensorsEntry, name = 'tensor'): Float32Array {
  const count = entry.bytes.length / SAFETENSORS_DTYPE_BYTES[entry.dtype];
  const view = new DataView(entry.bytes.buffer, entry.bytes.byteOffset, entry.bytes.byteLength);
  const out = new Float32Array(count);
  switch (entry.dtype) {
    case 'F32':
      if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(entry.bytes);
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = view.getUint16(2 * i, true) << 16;
      return out;
    }
    default:
      throw new SafetensorsError(
        'unsupported_dtype',
        `${name} has dtype ${entry.dtype}; only F32, F64, F16 and BF16 convert to float32`,
        name,
      );
  }
}
