/**
 * Load generators for the soak: HTTP producers (several requests in flight each, a 429 retried after a
 * short pause) and socket producers (length-prefixed msgpack frames, a bounded window of frames awaiting
 * their ack). Every acknowledged sequence number and every acknowledgement latency is recorded:
 * HTTP from sending the request to its 200 response, socket from writing the frame to reading its ack
 * (time spent in TCP buffers while the daemon is not reading counts, as a producer sees it).
 */
import net from 'node:net';
import { Packr, Unpackr } from 'msgpackr';

export interface Tally {
  /** Acknowledged sequence numbers, in the order the acks arrived. */
  readonly acked: number[];
  /** Acknowledgement latencies in ms (successful requests / frames only). */
  readonly latencyMs: number[];
  accepted: number;
  /** HTTP 429 answers (queue full). */
  rejectedFull: number;
  /** Latencies of the 429 answers, ms. */
  readonly rejectedMs: number[];
  /** Other refusals or failures, by reason or status. */
  readonly errors: Record<string, number>;
  /** Socket: times a write was refused by the local buffer and the producer waited for 'drain'. */
  writeStalls: number;
}

export function newTally(): Tally {
  return {
    acked: [],
    latencyMs: [],
    accepted: 0,
    rejectedFull: 0,
    rejectedMs: [],
    errors: {},
    writeStalls: 0,
  };
}

function countError(t: Tally, key: string): void {
  t.errors[key] = (t.errors[key] ?? 0) + 1;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Batches for the mlp of the soak, as msgpack (typed arrays) and JSON bodies. */
export function batchBodies(
  count: number,
  batchSize: number,
  features: number,
  classes: number,
): { msgpack: Buffer[]; json: string[] } {
  const packr = new Packr({ moreTypes: true });
  const msgpack: Buffer[] = [];
  const json: string[] = [];
  for (let k = 0; k < count; k++) {
    const inputs = new Float32Array(batchSize * features);
    const targets = new Int32Array(batchSize);
    for (let i = 0; i < batchSize; i++) {
      for (let j = 0; j < features; j++) inputs[i * features + j] = Math.sin(k * 7 + i * 3 + j) * 0.5;
      targets[i] = (k + i) % classes;
    }
    const b = { inputs, inputShape: [batchSize, features], targets, targetShape: [batchSize] };
    msgpack.push(packr.pack(b));
    json.push(JSON.stringify({ ...b, inputs: Array.from(inputs), targets: Array.from(targets) }));
  }
  return { msgpack, json };
}

export interface Producer {
  /** Stops sending; resolves once every request or frame in flight has been answered (or timed out). */
  stop(timeoutMs?: number): Promise<void>;
}

export interface HttpProducerOptions {
  url: string;
  bodies: readonly (Buffer | string)[];
  contentType: 'application/json' | 'application/msgpack';
  /** Requests in flight. */
  concurrency: number;
  /** Pause after a 429 before retrying, ms. */
  retryMs: number;
}

export function httpProducer(o: HttpProducerOptions, tally: Tally): Producer {
  let stopped = false;
  let next = 0;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const body = o.bodies[next++ % o.bodies.length];
      const t0 = performance.now();
      let status: number;
      let seq: unknown;
      try {
        const res = await fetch(`${o.url}/v1/batches`, {
          method: 'POST',
          headers: { 'content-type': o.contentType },
          body,
        });
        status = res.status;
        seq = ((await res.json()) as { seq?: unknown }).seq;
      } catch (e) {
        countError(tally, `fetch: ${(e as Error).message}`);
        await sleep(o.retryMs);
        continue;
      }
      const ms = performance.now() - t0;
      if (status === 200 && typeof seq === 'number') {
        tally.acked.push(seq);
        tally.latencyMs.push(ms);
        tally.accepted++;
      } else if (status === 429) {
        tally.rejectedFull++;
        tally.rejectedMs.push(ms);
        await sleep(o.retryMs);
      } else {
        countError(tally, `http ${status}`);
      }
    }
  };
  const loops = Array.from({ length: o.concurrency }, () => loop());
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

export interface SocketProducerOptions {
  port: number;
  bodies: readonly Buffer[];
  /** Frames sent and not yet acknowledged, at most. */
  window: number;
  /** Frames per second at most, read as it goes (≤ 0: as fast as the window allows). */
  rate: () => number;
}

export async function socketProducer(o: SocketProducerOptions, tally: Tally): Promise<Producer> {
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(o.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  const frames = o.bodies.map((b) => {
    const f = Buffer.allocUnsafe(4 + b.length);
    f.writeUInt32BE(b.length, 0);
    b.copy(f, 4);
    return f;
  });
  const unpackr = new Unpackr({ useRecords: false });
  const sentAt: number[] = [];
  let head = 0;
  let next = 0;
  let stopped = false;
  let draining = false;
  let closed = false;
  let buf: Buffer = Buffer.alloc(0);
  let settled: (() => void) | null = null;

  const outstanding = (): number => sentAt.length - head;
  // Token bucket: the rate may change while running; at most one window of frames is saved up.
  let tokens = 1;
  let refilled = performance.now();
  const allowed = (): boolean => {
    const rate = o.rate();
    if (rate <= 0) return true;
    const now = performance.now();
    tokens = Math.min(o.window, tokens + ((now - refilled) / 1000) * rate);
    refilled = now;
    return tokens >= 1;
  };
  const pump = (): void => {
    while (!stopped && !draining && !closed && outstanding() < o.window && allowed()) {
      tokens--;
      sentAt.push(performance.now());
      if (!socket.write(frames[next++ % frames.length])) {
        tally.writeStalls++;
        draining = true;
        socket.once('drain', () => {
          draining = false;
          pump();
        });
      }
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const len = buf.readUInt32BE(0);
      const ack = unpackr.unpack(buf.subarray(4, 4 + len)) as { seq?: number; reason?: string };
      buf = buf.subarray(4 + len);
      const ms = performance.now() - sentAt[head++];
      if (typeof ack.seq === 'number') {
        tally.acked.push(ack.seq);
        tally.latencyMs.push(ms);
        tally.accepted++;
      } else countError(tally, `socket ${ack.reason ?? 'unknown'}`);
    }
    // Drop acknowledged send times now and then, so a long soak does not grow this array.
    if (head > 4096) {
      sentAt.splice(0, head);
      head = 0;
    }
    if (outstanding() === 0 && settled) settled();
    pump();
  });
  socket.on('error', (e) => countError(tally, `socket error: ${e.message}`));
  socket.on('close', () => {
    closed = true;
    settled?.();
  });
  pump();
  // A rate-limited producer also sends on a clock, not only when acks arrive.
  const ticker = setInterval(pump, 5);
  return {
    stop: async (timeoutMs = 60_000) => {
      stopped = true;
      clearInterval(ticker);
      if (outstanding() > 0 && !closed) {
        await new Promise<void>((resolve) => {
          settled = resolve;
          setTimeout(resolve, timeoutMs).unref();
        });
      }
      if (outstanding() > 0) countError(tally, `socket: ${outstanding()} frames never acknowledged`);
      socket.end();
    },
  };
}
