/**
 * One NATS message of the remote protocol: a msgpack head (encodeHead: the scalar fields, −0 kept) and
 * raw bytes after it (Float32Array/Int32Array payloads as they lie in memory, never through the encoder):
 * `[head length: u32 LE][head][body]`. The body is copied into the frame, so the arrays may be reused
 * as soon as `frame` returns (the NATS client keeps a reference to a payload until it is flushed).
 */
import { decodeHead, encodeHead } from '../protocol.js';

export function frame(head: object, ...parts: ArrayBufferView[]): Uint8Array {
  const h = encodeHead(head);
  const bodyBytes = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(4 + h.length + bodyBytes);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 4);
  let at = 4 + h.length;
  for (const p of parts) {
    out.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return out;
}

export interface Unframed<H> {
  head: H;
  /** The bytes after the head: a view of the message (copy what you keep). */
  body: Uint8Array;
}

export function unframe<H>(msg: Uint8Array): Unframed<H> {
  if (!(msg instanceof Uint8Array) || msg.length < 4)
    throw new TypeError(`remote message of ${msg?.length ?? 0} bytes is too short for a frame`);
  const n = new DataView(msg.buffer, msg.byteOffset, msg.byteLength).getUint32(0, true);
  if (4 + n > msg.length)
    throw new TypeError(`remote message head of ${n} bytes overruns the ${msg.length}-byte message`);
  return { head: decodeHead<H>(msg.subarray(4, 4 + n)), body: msg.subarray(4 + n) };
}

/** Copies `bytes` into a new Float32Array (the bytes of a message need not be 4-byte aligned). */
export function floatsOf(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0)
    throw new TypeError(`${bytes.byteLength} bytes are not a whole number of float32 values`);
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Copies `bytes` into a new Int32Array or Float32Array. */
export function arrayOf(kind: 'f32' | 'i32', bytes: Uint8Array): Float32Array | Int32Array {
  const f = floatsOf(bytes);
  return kind === 'i32' ? new Int32Array(f.buffer) : f;
}
