/**
 * The checkpoint file format: parameters, their layout, optimizer state, step and metadata, encoded with
 * msgpackr and guarded by a fixed header with a SHA-256 of the payload.
 *
 * Layout (all integers little-endian):
 *
 * | bytes  | field                                                                  |
 * |--------|------------------------------------------------------------------------|
 * | 0–7    | magic `89 48 46 43 4B 50 54 0A` (`\x89HFCKPT\n`)                       |
 * | 8–11   | container version, u32 = 1                                             |
 * | 12–15  | flags, u32 = 0 (reserved)                                              |
 * | 16–23  | payload length in bytes, u64                                           |
 * | 24–55  | SHA-256 of the payload                                                 |
 * | 56–    | payload: msgpack of `{format, version, params, layout, optimizerState, step, meta}` |
 *
 * The magic starts with a non-ASCII byte and ends with a newline (the PNG trick), so a file mangled by a
 * text-mode transfer fails the magic check instead of decoding into garbage. msgpackr runs with
 * `moreTypes` + `structuredClone` so typed arrays (params, Adam/Sophia moments) come back as the same
 * typed array class, bit for bit — NaN payloads and −0 included — which "save → load → continue equals
 * an uninterrupted run" requires.
 */
import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import { type ParamLayoutEntry, describeLayoutProblem } from './param-layout.js';

export const CHECKPOINT_FORMAT = 'hessflow-checkpoint';
export const CHECKPOINT_VERSION = 1;
export const CHECKPOINT_MAGIC = Uint8Array.from([0x89, 0x48, 0x46, 0x43, 0x4b, 0x50, 0x54, 0x0a]);
export const CHECKPOINT_HEADER_BYTES = 56;

/** What a caller saves. */
export interface CheckpointData {
  params: Float32Array;
  layout: ParamLayoutEntry[];
  /** Any msgpack-able value; typed arrays inside round-trip as typed arrays. */
  optimizerState: unknown;
  step: number;
  meta?: Record<string, unknown>;
}

/** What a checkpoint holds once decoded. */
export interface Checkpoint extends CheckpointData {
  format: typeof CHECKPOINT_FORMAT;
  version: typeof CHECKPOINT_VERSION;
  meta: Record<string, unknown>;
}

export type CheckpointErrorReason =
  | 'truncated'
  | 'bad_magic'
  | 'unsupported_version'
  | 'bad_header'
  | 'trailing_data'
  | 'checksum_mismatch'
  | 'malformed'
  | 'invalid';

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly reason: CheckpointErrorReason,
    message: string,
  ) {
    super(message);
  }
}

// One configuration for both directions; a Packr per call keeps no state between unrelated files.
function packr(): Packr {
  return new Packr({ moreTypes: true, structuredClone: true });
}

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Null when `value` is a well-formed checkpoint body, else what is wrong with it. */
function describeBodyProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return 'the payload is not an object';
  const c = value as Partial<Checkpoint>;
  if (c.format !== CHECKPOINT_FORMAT)
    return `format is ${JSON.stringify(c.format)}, expected "${CHECKPOINT_FORMAT}"`;
  if (c.version !== CHECKPOINT_VERSION)
    return `payload version is ${JSON.stringify(c.version)}, expected ${CHECKPOINT_VERSION}`;
  if (!(c.params instanceof Float32Array)) return 'params is not a Float32Array';
  const layoutProblem = describeLayoutProblem(c.layout, c.params.length);
  if (layoutProblem) return layoutProblem;
  if (!Number.isSafeInteger(c.step) || c.step! < 0)
    return `step must be a non-negative integer, got ${String(c.step)}`;
  if (c.meta === null || typeof c.meta !== 'object' || Array.isArray(c.meta)) return 'meta must be an object';
  return null;
}

/** Encodes a checkpoint to bytes (header + payload). Throws a CheckpointError('invalid') on a bad input. */
export function encodeCheckpoint(data: CheckpointData): Uint8Array {
  const body: Checkpoint = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    params: data.params,
    layout: data.layout,
    optimizerState: data.optimizerState,
    step: data.step,
    meta: data.meta ?? {},
  };
  const problem = describeBodyProblem(body);
  if (problem) throw new CheckpointError('invalid', `cannot encode checkpoint: ${problem}`);
  const payload = packr().pack(body);
  const out = new Uint8Array(CHECKPOINT_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  out.set(CHECKPOINT_MAGIC, 0);
  view.setUint32(8, CHECKPOINT_VERSION, true);
  view.setUint32(12, 0, true);
  view.setBigUint64(16, BigInt(payload.length), true);
  out.set(sha256(payload), 24);
  out.set(payload, CHECKPOINT_HEADER_BYTES);
  return out;
}

export interface DecodeCheckpointOptions {
  /** Named in error messages, e.g. the file path. */
  source?: string;
}

/** Decodes and verifies checkpoint bytes; throws a CheckpointError naming the first problem found. */
export function decodeCheckpoint(bytes: Uint8Array, opts: DecodeCheckpointOptions = {}): Checkpoint {
  const what = opts.source ? `checkpoint ${opts.source}` : 'checkpoint';
  const fail = (reason: CheckpointErrorReason, msg: string): never => {
    throw new CheckpointError(reason, `${what}: ${msg}`);
  };
  const magicLen = Math.min(bytes.length, CHECKPOINT_MAGIC.length);
  for (let i = 0; i < magicLen; i++) {
    if (bytes[i] !== CHECKPOINT_MAGIC[i]) {
      fail(
        'bad_magic',
        `not a hessflow checkpoint (magic bytes ${hex(bytes.subarray(0, 8))}, expected ${hex(CHECKPOINT_MAGIC)})`,
      );
    }
  }
  if (bytes.length < CHECKPOINT_HEADER_BYTES) {
    fail(
      'truncated',
      `truncated: ${bytes.length} bytes, shorter than the ${CHECKPOINT_HEADER_BYTES}-byte header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CHECKPOINT_VERSION) {
    fail(
      'unsupported_version',
      `container version ${version} is not supported (this build reads version ${CHECKPOINT_VERSION})`,
    );
  }
  const flags = view.getUint32(12, true);
  if (flags !== 0) fail('bad_header', `reserved header flags are 0x${flags.toString(16)}, expected 0`);
  const declared = view.getBigUint64(16, true);
  const actual = BigInt(bytes.length - CHECKPOINT_HEADER_BYTES);
  if (declared > actual) {
    fail(
      'truncated',
      `truncated: the header declares ${declared} payload bytes but only ${actual} follow (file cut short?)`,
    );
  }
  if (declared < actual) {
    fail('trailing_data', `${actual - declared} unexpected bytes after the ${declared}-byte payload`);
  }
  const payload = bytes.subarray(CHECKPOINT_HEADER_BYTES);
  const recorded = bytes.subarray(24, 56);
  const computed = sha256(payload);
  if (!computed.equals(recorded)) {
    fail(
      'checksum_mismatch',
      `checksum mismatch: payload SHA-256 is ${hex(computed)}, the header records ${hex(recorded)} (the file is corrupted)`,
    );
  }
  let body: unknown;
  try {
    body = packr().unpack(payload);
  } catch (e) {
    fail('malformed', `payload is not valid msgpack: ${(e as Error).message}`);
  }
  const problem = describeBodyProblem(body);
  if (problem) fail('invalid', problem);
  return body as Checkpoint;
}
