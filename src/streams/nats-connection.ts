/**
 * Connecting to NATS for the JetStream source and `hessflow publish`: credentials come only from a file or
 * an environment variable (never a URL, a flag value or a config literal) and are never logged; an
 * unreachable broker at start is a clear error naming the servers; a connection lost mid-run reconnects
 * with backoff (the client's, with jitter), and `watchConnection` reports each state change and errors
 * once the broker has stayed unreachable past a bound, so a lost broker is never a silent stall.
 */
import { readFileSync } from 'node:fs';
import { type NatsConnection, connect, credsAuthenticator } from '@nats-io/transport-node';

export interface NatsAuthOptions {
  /** A file holding the token (trailing whitespace ignored). */
  tokenFile?: string;
  /** An environment variable holding the token. */
  tokenEnv?: string;
  /** A NATS credentials file (JWT + NKey seed, `nsc` format). */
  credsFile?: string;
}

export interface NatsConnectOptions extends NatsAuthOptions {
  servers: string | string[];
  /** Client name the server shows. */
  name?: string;
  /** Milliseconds to wait for the first connection (default 5000). */
  connectTimeoutMs?: number;
  /** Base wait between reconnect attempts in ms (default 250); the client adds jitter. */
  reconnectWaitMs?: number;
}

export class NatsConnectError extends Error {
  override readonly name = 'NatsConnectError';
}

/** Servers as a list; refuses URLs that carry credentials (they would end up in logs and `ps`). */
export function serverList(servers: string | string[]): string[] {
  const list = (Array.isArray(servers) ? servers : servers.split(',')).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new NatsConnectError('no NATS server given');
  for (const s of list) {
    const withScheme = /^[a-z]+:\/\//i.test(s) ? s : `nats://${s}`;
    let u: URL;
    try {
      u = new URL(withScheme);
    } catch {
      throw new NatsConnectError(`not a NATS server address: ${JSON.stringify(redactUrl(s))}`);
    }
    if (u.username || u.password)
      throw new NatsConnectError(
        `NATS server address ${redactUrl(s)} carries credentials; give a token with tokenFile/tokenEnv (--token-file, --token-env) instead`,
      );
  }
  return list;
}

/** A URL with any userinfo replaced by `***`. */
export function redactUrl(s: string): string {
  return s.replace(/\/\/[^@/]*@/, '//***@');
}

/** The connect options for a token or creds file read from where the options point; never logs them. */
export function natsAuth(o: NatsAuthOptions): Record<string, unknown> {
  const given = [o.tokenFile, o.tokenEnv, o.credsFile].filter((v) => v !== undefined).length;
  if (given > 1) throw new NatsConnectError('give one of tokenFile, tokenEnv or credsFile, not several');
  if (o.tokenFile !== undefined) {
    let token: string;
    try {
      token = readFileSync(o.tokenFile, 'utf8').trim();
    } catch (e) {
      throw new NatsConnectError(
        `cannot read the NATS token file ${o.tokenFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    if (!token) throw new NatsConnectError(`the NATS token file ${o.tokenFile} is empty`);
    return { token };
  }
  if (o.tokenEnv !== undefined) {
    const token = process.env[o.tokenEnv];
    if (!token) throw new NatsConnectError(`the environment variable ${o.tokenEnv} (NATS token) is not set`);
    return { token };
  }
  if (o.credsFile !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(o.credsFile);
    } catch (e) {
      throw new NatsConnectError(
        `cannot read the NATS credentials file ${o.credsFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    return { authenticator: credsAuthenticator(creds) };
  }
  return {};
}

/** The error text of a NATS failure without anything a secret could be in (codes and plain messages). */
export function natsErrorText(e: unknown): string {
  const err = e as { message?: string; code?: string } | null;
  return redactUrl(String(err?.message ?? e));
}

/** Connects, reconnecting forever with backoff once connected (`watchConnection` bounds the outage). */
export async function connectNats(o: NatsConnectOptions): Promise<NatsConnection> {
  const servers = serverList(o.servers);
  const auth = natsAuth(o);
  try {
    return await connect({
      servers,
      ...auth,
      ...(o.name ? { name: o.name } : {}),
      timeout: o.connectTimeoutMs ?? 5000,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: o.reconnectWaitMs ?? 250,
      reconnectJitter: 100,
      pingInterval: 5000,
      maxPingOut: 2,
    });
  } catch (e) {
    throw new NatsConnectError(`cannot connect to NATS at ${servers.join(', ')}: ${natsErrorText(e)}`);
  }
}

export interface ConnectionState {
  connected: boolean;
  /** Successful reconnects so far. */
  reconnects: number;
  /** Since when the connection has been down (ms since epoch), or null. */
  downSince: number | null;
  lastError: string | null;
}

/**
 * Follows `nc`'s status: keeps `state` current, and calls `onFatal` once when the connection has been
 * down for `maxOutageMs` or the client closed for good. Returns a function that stops watching.
 */
export function watchConnection(
  nc: NatsConnection,
  state: ConnectionState,
  maxOutageMs: number,
  onFatal: (e: Error) => void,
  onChange?: (s: ConnectionState) => void,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const fatal = (e: Error) => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    onFatal(e);
  };
  void (async () => {
    for await (const s of nc.status()) {
      if (stopped) break;
      if (s.type === 'disconnect') {
        state.connected = false;
        state.downSince ??= Date.now();
        state.lastError = `disconnected from ${redactUrl(s.server)}`;
        timer ??= setTimeout(
          () =>
            fatal(
              new NatsConnectError(
                `lost the NATS connection and could not reconnect within ${maxOutageMs} ms (${state.lastError})`,
              ),
            ),
          maxOutageMs,
        );
        timer.unref?.();
        onChange?.(state);
      } else if (s.type === 'reconnect') {
        state.connected = true;
        state.downSince = null;
        state.reconnects++;
        if (timer) clearTimeout(timer);
        timer = null;
        onChange?.(state);
      } else if (s.type === 'error') {
        state.lastError = natsErrorText(s.error);
        onChange?.(state);
      }
    }
  })().catch(() => undefined);
  void nc.closed().then((err) => {
    if (!stopped)
      fatal(new NatsConnectError(`the NATS connection closed${err ? `: ${natsErrorText(err)}` : ''}`));
  });
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
