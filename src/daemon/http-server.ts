/**
 * The HTTP API (fastify): ingest, status, control and metrics.
 *
 *   POST /v1/batches      application/json | application/msgpack  → 200 {seq} | 4xx {error, reason} | 429
 *   GET  /v1/status       step, paramsVersion, optimizer + hyperparameters, queue depth, backend
 *   POST /v1/pause, /v1/resume, /v1/checkpoint;  POST /v1/hyperparams {name: value}
 *   GET  /v1/weights      safetensors bytes;  POST /v1/evaluate (a batch) → {loss, accuracy, predictions}
 *   GET  /metrics         Prometheus text
 *
 * Bodies are taken as raw bytes and decoded by wire.ts (hardened); every rejection is answered with a
 * reason and counted. With a token configured, control endpoints require `Authorization: Bearer <token>`.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { TrainingEngine } from './engine.js';
import { IngestError } from './errors.js';
import type { DaemonMetrics } from './metrics.js';
import { type WireFormat, decodeBatch, parseJsonSafe } from './wire.js';

export interface HttpServerOptions {
  engine: TrainingEngine;
  metrics: DaemonMetrics;
  logger: Logger;
  maxBodyBytes: number;
  token?: string;
  /** Writes a checkpoint now. */
  checkpoint: () => Promise<{ path: string; step: number }>;
  /** False once shutdown began: ingest answers 503. */
  accepting: () => boolean;
  /** Further /v1/status fields (the NATS ingest's `nats`). */
  statusExtra?: () => Record<string, unknown>;
}

const MSGPACK_TYPES = ['application/msgpack', 'application/x-msgpack', 'application/vnd.msgpack'];

function formatOf(req: FastifyRequest): WireFormat {
  const ct = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (ct === 'application/json') return 'json';
  if (MSGPACK_TYPES.includes(ct)) return 'msgpack';
  throw new IngestError('content_type', `unsupported content type "${ct}"`, 415);
}

function bodyBytes(req: FastifyRequest): Uint8Array {
  const b = req.body;
  if (b === undefined || b === null) return new Uint8Array(0);
  if (b instanceof Uint8Array) return b;
  throw new IngestError('bad_request', 'unexpected body');
}

function reasonOfFastifyError(err: { code?: string; statusCode?: number }): {
  reason: string;
  status: number;
} {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? { reason: 'content_type', status: 415 }
        : { reason: 'bad_request', status: 400 };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { reason: 'too_large', status: 413 };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { reason: 'empty_body', status: 400 };
    default: {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      return { reason: status === 500 ? 'internal' : 'bad_request', status };
    }
  }
}

export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const { engine, metrics, logger } = opts;
  const app = Fastify({ logger: false, bodyLimit: opts.maxBodyBytes, forceCloseConnections: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json', ...MSGPACK_TYPES],
    { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes },
    (_req, body, done) => done(null, body),
  );

  const reject = (reply: FastifyReply, e: IngestError, url: string): FastifyReply => {
    metrics.reject(e.reason);
    logger.warn({ reason: e.reason, url, status: e.status }, `rejected: ${e.message}`);
    return reply.code(e.status).send({ error: e.message, reason: e.reason });
  };

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof IngestError) return reject(reply, err, req.url);
    const { reason, status } = reasonOfFastifyError(err as { code?: string; statusCode?: number });
    if (status === 500) logger.error({ err, url: req.url }, 'internal error');
    return reject(reply, new IngestError(reason, (err as Error).message, status), req.url);
  });
  app.setNotFoundHandler((req, reply) =>
    reject(reply, new IngestError('not_found', `no route ${req.method} ${req.url}`, 404), req.url),
  );

  const token = opts.token ? Buffer.from(opts.token) : null;
  const control = async (req: FastifyRequest): Promise<void> => {
    if (!token) return;
    const h = req.headers.authorization ?? '';
    const given = Buffer.from(h.startsWith('Bearer ') ? h.slice(7) : '');
    if (given.length !== token.length || !timingSafeEqual(given, token))
      throw new IngestError('unauthorized', 'missing or wrong bearer token', 401);
  };

  app.post('/v1/batches', async (req, reply) => {
    if (!opts.accepting()) throw new IngestError('shutting_down', 'the daemon is shutting down', 503);
    const batch = decodeBatch(bodyBytes(req), formatOf(req), engine.batchSpec);
    const seq = engine.submit(batch);
    if (seq === null) {
      reply.header('Retry-After', '1');
      throw new IngestError('queue_full', 'the queue is full; retry later', 429);
    }
    metrics.accepted.inc({ transport: 'http' });
    return { seq };
  });

  app.get('/v1/status', async () => ({ ...engine.status(), ...opts.statusExtra?.() }));

  app.post('/v1/pause', { onRequest: control }, async () => {
    engine.pause();
    logger.info('paused');
    return engine.status();
  });

  app.post('/v1/resume', { onRequest: control }, async () => {
    engine.resume();
    logger.info('resumed');
    return engine.status();
  });

  app.post('/v1/hyperparams', { onRequest: control }, async (req) => {
    if (formatOf(req) !== 'json')
      throw new IngestError('content_type', 'hyperparams take application/json', 415);
    const bytes = bodyBytes(req);
    const value = parseJsonSafe(Buffer.from(bytes).toString('utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw new IngestError('not_object', 'the body must be an object {name: value}');
    const hyperparams = engine.setHyperparams(value as Record<string, unknown>);
    logger.info({ hyperparams }, 'hyperparameters changed');
    return { hyperparams };
  });

  app.post('/v1/checkpoint', { onRequest: control }, async () => opts.checkpoint());

  app.get('/v1/weights', { onRequest: control }, async (_req, reply) => {
    reply.header('content-type', 'application/octet-stream');
    return Buffer.from(engine.weights());
  });

  app.post('/v1/evaluate', { onRequest: control }, async (req) => {
    const batch = decodeBatch(bodyBytes(req), formatOf(req), engine.batchSpec);
    return { ...engine.evaluate(batch), step: engine.status().step };
  });

  app.get('/metrics', async (_req, reply) => {
    const s = engine.status();
    metrics.queueDepth.set(s.queueDepth);
    metrics.paused.set(s.paused ? 1 : 0);
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  return app;
}
