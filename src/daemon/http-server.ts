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
import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { requireOptional } from '../util/optional-dependency.js';
import type { TrainingEngine } from './engine.js';
import { IngestError } from './errors.js';
import type { DaemonMetrics } from './metrics.js';
import { type WireFormat, decodeBatch, parseJsonSafe } from '../data/wire.js';

export interface HttpServerOptions {
  engine: TrainingEngine;
  metrics: DaemonMetrics;
  logger: Logger;
  maxBodyBytes: number;
  /** Connection limits and timeouts (daemon config keys of the same names). */
  limits: { httpMaxConnections: number; httpRequestTimeoutMs: number; httpIdleTimeoutMs: number };
  token?: string;
  /** What GET /v1/status answers (the engine's status and the daemon's own). */
  status: () => object;
  /** Writes a checkpoint now. */
  checkpoint: () => Promise<{ path: string; step: number }>;
  /** Why ingest is refused now (shutting down, training halted, …: answered 503), or null. */
  refusal: () => IngestError | null;
}

/**
 * The path of a request URL without its query string: what is logged and echoed. A token put in the
 * query (`?token=…`, wrongly: the API takes it in the Authorization header only) never reaches the logs.
 */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?[query redacted]`;
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
  const { httpRequestTimeoutMs, httpIdleTimeoutMs } = opts.limits;
  // fastify is an optional dependency, loaded when a daemon starts (not when the CLI does).
  const { fastify } = requireOptional<typeof import('fastify')>('fastify');
  const app = fastify({
    logger: false,
    bodyLimit: opts.maxBodyBytes,
    forceCloseConnections: true,
    // A slow or stalled body is cut off (408) instead of holding a connection and a buffer forever.
    requestTimeout: httpRequestTimeoutMs,
    connectionTimeout: httpIdleTimeoutMs,
    // Node checks request timeouts at this interval (30 s by default, too coarse for short timeouts).
    http: {
      connectionsCheckingInterval: Math.max(
        100,
        Math.min(30_000, Math.floor((httpRequestTimeoutMs || 30_000) / 4)),
      ),
    },
    // Errors of Node's HTTP parser (and request timeouts) never reach a route: answered here like every
    // other rejection, {error, reason}, and counted.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, reason, what] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'request_timeout', `the request did not arrive within ${httpRequestTimeoutMs} ms`]
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'header_too_large', 'the request headers are too large']
            : [400, 'http_parse', `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`];
      metrics.reject(reason);
      logger.warn({ reason, status, code: err.code }, `rejected: ${what}`);
      if (socket.writable) {
        const body = JSON.stringify({ error: what, reason });
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
            `Content-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    },
  });
  // Node only enforces requestTimeout on a body still arriving when headersTimeout is not above it.
  if (httpRequestTimeoutMs > 0)
    app.server.headersTimeout = Math.min(app.server.headersTimeout, httpRequestTimeoutMs);
  app.server.maxConnections = opts.limits.httpMaxConnections;
  app.server.on('drop', () => {
    metrics.reject('too_many_connections');
    logger.warn(
      { reason: 'too_many_connections', transport: 'http', limit: opts.limits.httpMaxConnections },
      'HTTP connection dropped: httpMaxConnections reached',
    );
  });
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
    if (err instanceof IngestError) return reject(reply, err, pathOf(req.url));
    const { reason, status } = reasonOfFastifyError(err as { code?: string; statusCode?: number });
    if (status === 500) logger.error({ err, url: pathOf(req.url) }, 'internal error');
    return reject(reply, new IngestError(reason, (err as Error).message, status), pathOf(req.url));
  });
  app.setNotFoundHandler((req, reply) =>
    reject(
      reply,
      new IngestError('not_found', `no route ${req.method} ${pathOf(req.url)}`, 404),
      pathOf(req.url),
    ),
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
    const refused = opts.refusal();
    if (refused) throw refused;
    const batch = decodeBatch(bodyBytes(req), formatOf(req), engine.batchSpec);
    const seq = engine.submit(batch);
    if (seq === null) {
      reply.header('Retry-After', '1');
      throw new IngestError('queue_full', 'the queue is full; retry later', 429);
    }
    metrics.accepted.inc({ transport: 'http' });
    return { seq };
  });

  app.get('/v1/status', async () => opts.status());

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
    metrics.diverged.set(s.diverged ? 1 : 0);
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  return app;
}
