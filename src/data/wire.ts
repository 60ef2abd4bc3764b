/**
 * Wire decoding of batches, hardened: JSON and msgpack bodies become a `Batch` only when they are an
 * object with exactly the batch fields, carry no `__proto__` / `constructor` / `prototype` keys at any
 * depth, hold numbers of the declared kinds, and pass `validateBatch` against the model's spec. Anything
 * else raises an IngestError with a reason code; nothing partially decoded is ever used.
 *
 * Wire shape: `{inputs, inputShape, targets, targetShape, id?}` where inputs/targets are number arrays
 * (JSON or msgpack) or typed arrays (msgpack with msgpackr `moreTypes`: Float32Array inputs, Int32Array
 * targets).
 */
import { Unpackr } from 'msgpackr';
import type { Batch } from './batch.js';
import { BatchValidationError, type BatchSpec, validateBatch } from './validate.js';
import { IngestError } from './ingest-error.js';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const BATCH_KEYS = new Set(['inputs', 'inputShape', 'targets', 'targetShape', 'id']);

// Maps come back as Map objects so every key is seen as sent (msgpackr renames `__proto__` when it builds
// plain objects); they are checked and converted below.
const unpackr = new Unpackr({ moreTypes: true, mapsAsObjects: false });

function forbidden(key: string): never {
  throw new IngestError('forbidden_key', `the body carries a forbidden key "${key}"`);
}

/** Parses JSON text, refusing prototype-polluting keys at any depth (secure-json-parse behaviour). */
export function parseJsonSafe(text: string): unknown {
  try {
    return JSON.parse(text, function (key, value) {
      if (FORBIDDEN_KEYS.has(key)) forbidden(key);
      return value;
    });
  } catch (e) {
    if (e instanceof IngestError) throw e;
    throw new IngestError('malformed_json', `the body is not valid JSON: ${(e as Error).message}`);
  }
}

/** Map → null-prototype-free plain object, recursively, refusing forbidden and non-string keys. */
function fromMsgpackValue(v: unknown, depth: number): unknown {
  if (depth > 64) throw new IngestError('too_deep', 'the body nests deeper than 64 levels');
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of v) {
      if (typeof k !== 'string') throw new IngestError('bad_key', `map key ${String(k)} is not a string`);
      if (FORBIDDEN_KEYS.has(k)) forbidden(k);
      Object.defineProperty(out, k, {
        value: fromMsgpackValue(val, depth + 1),
        enumerable: true,
        writable: true,
      });
    }
    return out;
  }
  if (Array.isArray(v)) return v.map((x) => fromMsgpackValue(x, depth + 1));
  if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v)) {
    // Records/extensions that decoded to plain objects: check their keys too.
    for (const k of Object.keys(v)) if (FORBIDDEN_KEYS.has(k) || k === '__proto_') forbidden(k);
    if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null)
      throw new IngestError('unsupported_type', `unsupported msgpack value of type ${v.constructor?.name}`);
  }
  return v;
}

export function parseMsgpackSafe(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new IngestError('empty_body', 'the body is empty');
  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch (e) {
    throw new IngestError('malformed_msgpack', `the body is not valid msgpack: ${(e as Error).message}`);
  }
  return fromMsgpackValue(value, 0);
}

function toFloat32(field: 'inputs', v: unknown): Float32Array {
  if (v instanceof Float32Array) return v;
  if (!Array.isArray(v))
    throw new IngestError('dtype', `${field} must be an array of numbers or a Float32Array`);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number') throw new IngestError('dtype', `${field}[${i}] is not a number`);
    if (!Number.isFinite(x)) throw new IngestError('non_finite', `${field}[${i}] is ${x}`);
    out[i] = x;
  }
  return out;
}

function toInt32(field: 'targets' | 'inputs', v: unknown): Int32Array {
  if (v instanceof Int32Array) return v;
  if (!Array.isArray(v))
    throw new IngestError('dtype', `${field} must be an array of integers or an Int32Array`);
  const out = new Int32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number') throw new IngestError('dtype', `${field}[${i}] is not a number`);
    if (!Number.isFinite(x)) throw new IngestError('non_finite', `${field}[${i}] is ${x}`);
    if (!Number.isInteger(x))
      throw new IngestError('label_not_integer', `${field}[${i}] = ${x} is not an integer`);
    if (x < -(2 ** 31) || x >= 2 ** 31)
      throw new IngestError('label_range', `${field}[${i}] = ${x} is out of range`);
    out[i] = x;
  }
  return out;
}

/** Largest dimension taken (no batch holds more than 2^31 - 1 values). */
const MAX_DIM = 2 ** 31 - 1;

function describeValue(x: unknown): string {
  if (typeof x === 'string') return `the string ${JSON.stringify(x)}`;
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return 'an object';
  return `${typeof x} ${String(x)}`;
}

function toShape(field: 'inputShape' | 'targetShape', v: unknown): number[] {
  if (!Array.isArray(v)) throw new IngestError('missing', `${field} must be an array of dimensions`);
  if (v.length > 8) throw new IngestError('shape', `${field} has ${v.length} dimensions`);
  v.forEach((x: unknown, i) => {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > MAX_DIM)
      throw new IngestError(
        'shape',
        `${field}[${i}] must be an integer in [0, ${MAX_DIM}] (a number, not a string), got ${describeValue(x)}`,
      );
  });
  return v as number[];
}

/** The data must fill its shape: checked here so the field at fault is the one named. */
function checkFills(field: 'inputs', data: { length: number }, shape: number[]): void {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size)
    throw new IngestError(
      'length',
      `${field} has ${data.length} values but inputShape [${shape.join(', ')}] describes ${size}`,
    );
}

/**
 * `spec.maxFeatureMagnitude` (the daemon's IngestSpec; absent or 0 = no bound): a float feature of larger
 * magnitude is refused, naming the batch, sample and feature.
 */
function checkMagnitude(batch: Batch, spec: BatchSpec & { maxFeatureMagnitude?: number }): void {
  const limit = spec.maxFeatureMagnitude ?? 0;
  if (limit === 0 || !(batch.inputs instanceof Float32Array)) return;
  const x = batch.inputs;
  const per = x.length / batch.inputShape[0];
  for (let i = 0; i < x.length; i++) {
    if (Math.abs(x[i]) > limit) {
      const s = Math.floor(i / per);
      const e = i - s * per;
      const id = batch.id !== undefined ? `batch ${JSON.stringify(batch.id)}: ` : '';
      throw new IngestError(
        'feature_range',
        `${id}inputs[${s}][${e}] = ${x[i]} exceeds maxFeatureMagnitude ${limit} (sample ${s}, feature ${e}); ` +
          'scale the data, or raise maxFeatureMagnitude in the daemon config',
      );
    }
  }
}

/** A decoded body (plain object) → a validated Batch. */
export function batchFromValue(value: unknown, spec: BatchSpec & { maxFeatureMagnitude?: number }): Batch {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value))
    throw new IngestError(
      'not_object',
      'the body must be an object {inputs, inputShape, targets, targetShape}',
    );
  const obj = value as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (FORBIDDEN_KEYS.has(k)) forbidden(k);
    if (!BATCH_KEYS.has(k)) throw new IngestError('unknown_field', `unknown field "${k}"`);
  }
  for (const k of ['inputs', 'inputShape', 'targets', 'targetShape']) {
    if (obj[k] === undefined || obj[k] === null) throw new IngestError('missing', `field "${k}" is missing`);
  }
  const batch: Batch = {
    inputs: spec.inputKind === 'float' ? toFloat32('inputs', obj.inputs) : toInt32('inputs', obj.inputs),
    inputShape: toShape('inputShape', obj.inputShape),
    targets: spec.targetKind === 'int' ? toInt32('targets', obj.targets) : toFloat32('inputs', obj.targets),
    targetShape: toShape('targetShape', obj.targetShape),
  };
  if (obj.id !== undefined) {
    if (typeof obj.id !== 'string' && !(typeof obj.id === 'number' && Number.isFinite(obj.id)))
      throw new IngestError('bad_id', `id must be a string or a finite number, got ${describeValue(obj.id)}`);
    batch.id = obj.id;
  }
  // inputShape sets B, which targetShape is then checked against: a wrong B is the inputs' fault.
  checkFills('inputs', batch.inputs, batch.inputShape);
  try {
    validateBatch(batch, spec);
  } catch (e) {
    if (e instanceof BatchValidationError) throw new IngestError(e.reason, e.message);
    throw e;
  }
  checkMagnitude(batch, spec);
  return batch;
}

export type WireFormat = 'json' | 'msgpack';

/** Raw body bytes of a known format → a validated Batch. */
export function decodeBatch(
  body: Uint8Array,
  format: WireFormat,
  spec: BatchSpec & { maxFeatureMagnitude?: number },
): Batch {
  if (format === 'json') {
    if (body.length === 0) throw new IngestError('empty_body', 'the body is empty');
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    return batchFromValue(parseJsonSafe(text), spec);
  }
  return batchFromValue(parseMsgpackSafe(body), spec);
}
