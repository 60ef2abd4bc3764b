/**
 * A result crosses as chunks below the broker's max_payload (a 10M-parameter gradient is 40 MB, the
 * default max_payload 1 MiB): the worker publishes them to the attempt's own subject, and the
 * coordinator collects them in any order and rebuilds the arrays.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { floatsOf, frame, unframe } from './frame.js';
import type { ResultArray, ResultChunkHead, ResultHead } from './messages.js';

/** Bytes of one chunk's payload for a broker of `maxPayload` (room left for the head, 4-byte aligned). */
export function chunkBytesFor(maxPayload: number | undefined): number {
  const max = maxPayload && maxPayload > 0 ? maxPayload : 1024 * 1024;
  return Math.max(4096, Math.floor((max - 2048) / 4) * 4);
}

/** Publishes `head` and the arrays (concatenated, in `head.arrays` order) to `subject` in chunks. */
export function publishResult(
  nc: NatsConnection,
  subject: string,
  head: ResultHead,
  arrays: Float32Array[],
  chunkBytes: number,
): void {
  const total = arrays.reduce((n, a) => n + a.byteLength, 0);
  const blob = new Uint8Array(total);
  let at = 0;
  for (const a of arrays) {
    blob.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  const n = Math.max(1, Math.ceil(total / chunkBytes));
  for (let i = 0; i < n; i++) {
    const offset = i * chunkBytes;
    // Chunk 0's head is the result head itself (top level, so a loss of −0 keeps its sign).
    const h: ResultChunkHead = i === 0 ? { ...head, i, n, offset } : { taskId: head.taskId, i, n, offset };
    nc.publish(subject, frame(h, blob.subarray(offset, Math.min(total, offset + chunkBytes))));
  }
}

export interface CollectedResult {
  head: ResultHead;
  arrays: Partial<Record<ResultArray, Float32Array>>;
}

/** Collects one attempt's result chunks from `subject`; `result` settles once all have arrived. */
export class ResultCollector {
  readonly result: Promise<CollectedResult>;
  private readonly sub: Subscription;
  private head: ResultHead | null = null;
  private n = -1;
  private readonly chunks = new Map<number, { offset: number; bytes: Uint8Array }>();
  private resolve!: (r: CollectedResult) => void;
  private reject!: (e: Error) => void;

  constructor(nc: NatsConnection, subject: string, taskId: string) {
    this.result = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // Whoever races this promise may give up first; an unobserved rejection must not crash the process.
    this.result.catch(() => undefined);
    this.sub = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return this.reject(err);
        try {
          const { head, body } = unframe<ResultChunkHead & Partial<ResultHead>>(msg.data);
          if (head.taskId !== taskId) return; // a stray message on a reused subject: not ours
          this.n = head.n;
          if (head.i === 0) {
            const { i: _i, n: _n, offset: _o, ...result } = head;
            this.head = result as ResultHead;
          }
          // Copy: the message's bytes belong to the client's read buffer.
          if (!this.chunks.has(head.i)) this.chunks.set(head.i, { offset: head.offset, bytes: body.slice() });
          if (this.head && this.chunks.size === this.n) this.finish(this.head);
        } catch (e) {
          this.reject(e as Error);
        }
      },
    });
  }

  private finish(head: ResultHead): void {
    const total = head.arrays.reduce((n, a) => n + a.length * 4, 0);
    const blob = new Uint8Array(total);
    for (const { offset, bytes } of this.chunks.values()) {
      if (offset + bytes.length > total) return this.reject(new RangeError('result chunk past the result'));
      blob.set(bytes, offset);
    }
    const arrays: CollectedResult['arrays'] = {};
    let at = 0;
    for (const a of head.arrays) {
      arrays[a.name] = floatsOf(blob.subarray(at, at + a.length * 4));
      at += a.length * 4;
    }
    this.resolve({ head, arrays });
  }

  close(): void {
    this.sub.unsubscribe();
  }
}
