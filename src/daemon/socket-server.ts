/**
 * The streaming ingest endpoint for high-rate producers: a TCP stream of frames, each a 4-byte big-endian
 * payload length followed by a msgpack batch. Every frame is answered, in order, by a frame holding
 * `{seq}` or `{error, reason}`. A payload that is not a valid batch is rejected and the stream goes on; a
 * framing error (a declared length over `maxFrameBytes`) is answered and the connection closed, since the
 * stream cannot be resynchronised. When the queue is full the socket stops reading (TCP backpressure)
 * until there is room; likewise while the producer does not read its acks. Memory per connection stays
 * below one frame plus one read chunk.
 */
import net from 'node:net';
import { Packr } from 'msgpackr';
import type { Logger } from 'pino';
import type { TrainingEngine } from './engine.js';
import { IngestError } from './errors.js';
import type { DaemonMetrics } from './metrics.js';
import { decodeBatch } from '../data/wire.js';

export interface SocketServerOptions {
  engine: TrainingEngine;
  metrics: DaemonMetrics;
  logger: Logger;
  maxFrameBytes: number;
  /** Connections held at most: one more is answered too_many_connections and closed. */
  maxConnections: number;
  /** Nothing received for this long (unless the daemon holds the producer back): idle_timeout; 0 = never. */
  idleTimeoutMs: number;
  /** Why ingest is refused now (answered with its reason, and the connection closed), or null. */
  refusal: () => IngestError | null;
}

// Acks are plain msgpack maps (no records), readable by any msgpack client.
const ackPackr = new Packr({ useRecords: false });

export function encodeFrame(value: unknown): Buffer {
  const payload = ackPackr.pack(value);
  const out = Buffer.allocUnsafe(4 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  payload.copy(out, 4);
  return out;
}

export interface SocketServer {
  server: net.Server;
  /** Stops accepting connections and ends the open ones. */
  close(): Promise<void>;
}

export function createSocketServer(opts: SocketServerOptions): SocketServer {
  const { engine, metrics, logger } = opts;
  const sockets = new Set<net.Socket>();
  // The connections counted against maxConnections: a socket leaves as soon as the daemon ends it (idle
  // timeout, answered half-close), not only at 'close', which comes a loop turn after the producer has
  // seen the end. Otherwise a producer reconnecting at once could be refused by a slot already given up.
  const slots = new Set<net.Socket>();

  // allowHalfOpen: a producer that sends its last frames and half-closes still gets every answer.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    if (slots.size >= opts.maxConnections) {
      metrics.reject('too_many_connections');
      logger.warn(
        { reason: 'too_many_connections', transport: 'socket', limit: opts.maxConnections },
        'socket connection refused: maxConnections reached',
      );
      socket.on('error', () => undefined);
      socket.end(
        encodeFrame({
          error: `the daemon holds ${opts.maxConnections} connections already (maxConnections)`,
          reason: 'too_many_connections',
        }),
      );
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    sockets.add(socket);
    slots.add(socket);
    let buffered: Buffer = Buffer.alloc(0);
    let waiting = false;
    let closed = false;
    /** The producer half-closed: answer every complete frame still buffered, then end. */
    let ended = false;

    const finish = (): void => {
      if (closed || !ended || waiting) return;
      if (buffered.length > 0) {
        const e = new IngestError(
          'truncated_frame',
          `the connection ended inside a frame (${buffered.length} bytes of an incomplete frame)`,
        );
        metrics.reject(e.reason);
        logger.warn({ reason: e.reason, bytes: buffered.length }, 'connection ended inside a frame');
        reply({ error: e.message, reason: e.reason });
      }
      hangUp();
    };

    /** The daemon ends the connection: nothing more is read or answered, and its slot is free. */
    const hangUp = (): void => {
      closed = true;
      slots.delete(socket);
      buffered = Buffer.alloc(0);
      socket.end();
    };

    const reply = (value: unknown): void => {
      if (closed) return;
      if (!socket.write(encodeFrame(value)) && !waiting) {
        // The producer is not reading its acks: stop reading its frames until it does.
        waiting = true;
        metrics.socketReadPauses.inc({ cause: 'unread_acks' });
        socket.pause();
        socket.once('drain', () => {
          waiting = false;
          socket.resume();
          pump();
        });
      }
    };

    const fail = (e: IngestError): void => {
      metrics.reject(e.reason);
      logger.warn({ reason: e.reason, transport: 'socket' }, `rejected: ${e.message}`);
      reply({ error: e.message, reason: e.reason });
    };

    const pump = (): void => {
      while (!closed && !waiting && buffered.length >= 4) {
        const len = buffered.readUInt32BE(0);
        if (len > opts.maxFrameBytes) {
          fail(
            new IngestError(
              'frame_too_large',
              `frame of ${len} bytes exceeds the ${opts.maxFrameBytes}-byte limit`,
              413,
            ),
          );
          hangUp();
          return;
        }
        if (buffered.length < 4 + len) break;
        const refused = opts.refusal();
        if (refused) {
          fail(refused);
          if (refused.reason === 'shutting_down') {
            hangUp();
            return;
          }
          buffered = buffered.subarray(4 + len);
          continue;
        }
        // Decode before waiting for room so garbage is answered at once; wait only with a valid batch.
        const payload = Uint8Array.prototype.slice.call(buffered, 4, 4 + len);
        let batch;
        try {
          batch = decodeBatch(payload, 'msgpack', engine.batchSpec);
        } catch (e) {
          buffered = buffered.subarray(4 + len);
          if (e instanceof IngestError) fail(e);
          else fail(new IngestError('internal', (e as Error).message, 500));
          continue;
        }
        const seq = engine.submit(batch);
        if (seq === null) {
          // Full: keep the frame, stop reading, retry when a step frees room (BatchQueue.whenRoom shares
          // freed slots with HTTP producers).
          waiting = true;
          metrics.socketReadPauses.inc({ cause: 'queue_full' });
          socket.pause();
          void engine.whenRoom().then(() => {
            waiting = false;
            if (closed) return;
            socket.resume();
            pump();
          });
          return;
        }
        buffered = buffered.subarray(4 + len);
        metrics.accepted.inc({ transport: 'socket' });
        reply({ seq });
      }
      finish();
    };

    socket.on('data', (chunk: Buffer) => {
      if (closed) return;
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      pump();
    });
    socket.on('end', () => {
      ended = true;
      // Frames waiting for queue room or for the producer to read its acks are answered first.
      if (!waiting) pump();
    });
    if (opts.idleTimeoutMs > 0) {
      socket.setTimeout(opts.idleTimeoutMs);
      socket.on('timeout', () => {
        // Held back by the daemon (queue full, unread acks): not the producer's idleness.
        if (closed || waiting || ended) return;
        fail(
          new IngestError(
            'idle_timeout',
            `nothing received for ${opts.idleTimeoutMs} ms` +
              (buffered.length > 0 ? ` inside a frame (${buffered.length} bytes of it)` : ''),
            408,
          ),
        );
        hangUp();
        setTimeout(() => socket.destroy(), 1000).unref();
      });
    }
    socket.on('error', (err) => logger.debug({ err }, 'socket error'));
    socket.on('close', () => {
      closed = true;
      sockets.delete(socket);
      slots.delete(socket);
    });
  });

  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.end();
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 1000).unref();
      }),
  };
}
