/**
 * The coordinator's side of θ distribution: answers chunk requests for θ of a version. The live θ (the
 * coordinator's buffer) is served while its published version is the one asked for, and the private
 * snapshots of probes in flight (θ_step of a probe outlives its step) while they are held; any other
 * version is refused (ERR_STALE_PARAMS), so no worker ever computes on a θ that mixes two versions:
 * each chunk is cut from one version in one synchronous handler, and θ changes only with its version.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { serializeError } from '../protocol.js';
import { RemoteErrors } from './errors.js';
import { frame, unframe } from './frame.js';
import type { ThetaReply, ThetaRequest } from './messages.js';

export interface LiveTheta {
  params: Float32Array;
  /** The published version (Int32Array(1)). */
  version: Int32Array;
}

export class ThetaServer {
  /** Whole fetches (chunk 0 requests) per worker id. */
  readonly fetches = new Map<string, number>();
  private readonly held = new Map<number, { params: Float32Array; refs: number }>();
  private readonly sub: Subscription;

  constructor(
    nc: NatsConnection,
    subject: string,
    private readonly live: LiveTheta,
    private readonly chunkBytes: number,
  ) {
    this.sub = nc.subscribe(subject, { callback: (_err, msg) => void msg.respond(this.answer(msg.data)) });
  }

  /** Keeps `params` (θ of `version`) served until `release(version)`: a probe's private snapshot. */
  hold(version: number, params: Float32Array): void {
    const h = this.held.get(version);
    if (h) h.refs++;
    else this.held.set(version, { params, refs: 1 });
  }

  release(version: number): void {
    const h = this.held.get(version);
    if (h && --h.refs <= 0) this.held.delete(version);
  }

  private answer(data: Uint8Array): Uint8Array {
    let req: ThetaRequest;
    try {
      req = unframe<ThetaRequest>(data).head;
    } catch (e) {
      return frame({ version: -1, chunks: 0, length: 0, error: serializeError(e) } satisfies ThetaReply);
    }
    const liveVersion = Atomics.load(this.live.version, 0);
    const src = req.version === liveVersion ? this.live.params : this.held.get(req.version)?.params;
    if (!src) {
      const error = serializeError(RemoteErrors.ThetaGone(req.version, liveVersion));
      return frame({ version: req.version, chunks: 0, length: 0, error } satisfies ThetaReply);
    }
    const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    const chunks = Math.max(1, Math.ceil(bytes.length / this.chunkBytes));
    if (!Number.isInteger(req.chunk) || req.chunk < 0 || req.chunk >= chunks) {
      const error = serializeError(new RangeError(`θ chunk ${req.chunk} of ${chunks} does not exist`));
      return frame({ version: req.version, chunks, length: src.length, error } satisfies ThetaReply);
    }
    if (req.chunk === 0) this.fetches.set(req.worker, (this.fetches.get(req.worker) ?? 0) + 1);
    const from = req.chunk * this.chunkBytes;
    const head: ThetaReply = { version: req.version, chunks, length: src.length, error: null };
    return frame(head, bytes.subarray(from, Math.min(bytes.length, from + this.chunkBytes)));
  }

  close(): void {
    this.sub.unsubscribe();
  }
}
