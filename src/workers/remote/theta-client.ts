/**
 * The worker's side of θ distribution: fetches θ of a version from the coordinator in chunks (a few
 * requests in flight at once) and keeps the last few versions, so each version crosses the network
 * once per worker process however many tasks use it.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { deserializeError } from '../errors.js';
import { frame, unframe } from './frame.js';
import type { ThetaReply, ThetaRequest } from './messages.js';

/** Chunk requests in flight at once. */
const WINDOW = 4;

export class ThetaCache {
  private readonly versions = new Map<string, Promise<Float32Array>>();

  constructor(
    private readonly nc: NatsConnection,
    /** The θ subject of a coordinator session. */
    private readonly subject: (session: string) => string,
    private readonly worker: string,
    private readonly timeoutMs: number,
    /** Versions kept (the gradient's and a probe's, say). */
    private readonly keep = 2,
  ) {}

  /**
   * θ of `version` of coordinator `session` (`length` values): from the cache, or fetched once however
   * many ask at once.
   */
  get(session: string, version: number, length: number): Promise<Float32Array> {
    const key = `${session}:${version}`;
    let p = this.versions.get(key);
    if (!p) {
      p = this.fetch(this.subject(session), version, length);
      this.versions.set(key, p);
      // A failed fetch is not cached: the next task of that version asks again.
      p.catch(() => this.versions.delete(key));
      while (this.versions.size > this.keep) this.versions.delete(this.versions.keys().next().value!);
    }
    return p.then((theta) => {
      if (theta.length !== length)
        throw new RangeError(`θ of version ${version} has ${theta.length} values, the task says ${length}`);
      return theta;
    });
  }

  private async chunk(
    subject: string,
    version: number,
    chunk: number,
  ): Promise<{ head: ThetaReply; body: Uint8Array }> {
    const req: ThetaRequest = { version, chunk, worker: this.worker };
    const msg = await this.nc.request(subject, frame(req), { timeout: this.timeoutMs });
    const r = unframe<ThetaReply>(msg.data);
    if (r.head.error) throw deserializeError(r.head.error);
    if (r.head.version !== version)
      throw new RangeError(`asked for θ version ${version}, got ${r.head.version}`);
    return r;
  }

  private async fetch(subject: string, version: number, length: number): Promise<Float32Array> {
    const first = await this.chunk(subject, version, 0);
    const { chunks } = first.head;
    if (first.head.length !== length)
      throw new RangeError(
        `θ of version ${version} has ${first.head.length} values, the task says ${length}`,
      );
    const out = new Float32Array(length);
    const bytes = new Uint8Array(out.buffer);
    const chunkBytes = first.body.length;
    bytes.set(first.body, 0);
    for (let i = 1; i < chunks; i += WINDOW) {
      const ids = Array.from({ length: Math.min(WINDOW, chunks - i) }, (_, k) => i + k);
      const got = await Promise.all(ids.map((c) => this.chunk(subject, version, c)));
      got.forEach((r, k) => bytes.set(r.body, ids[k] * chunkBytes));
    }
    return out;
  }
}
