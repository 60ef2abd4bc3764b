/**
 * `nats://host:port[,host2:port2…]/STREAM[?consumer=NAME&subject=SUBJ]`: where `hessflow train --source`
 * and `hessflow publish --to` find a JetStream stream. Credentials never go in the URL (it shows in `ps`
 * and logs): a URL with a user or password is refused; use --token-file, --token-env or --creds.
 */
import { UsageError } from './errors.js';

export interface NatsSourceUrl {
  servers: string[];
  stream: string;
  consumer?: string;
  subject?: string;
}

export function parseNatsSourceUrl(url: string): NatsSourceUrl {
  const m = /^nats:\/\/([^/?#]+)\/([^/?#]+)\/?(?:\?([^#]*))?$/.exec(url.trim());
  if (!m)
    throw new UsageError(
      `--source: expected nats://host:port/STREAM (e.g. nats://127.0.0.1:4222/TRAIN), got ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}`,
    );
  const [, hosts, stream, query] = m;
  if (hosts.includes('@'))
    throw new UsageError(
      '--source: the URL carries credentials; give the token with --token-file or --token-env (or --creds) instead',
    );
  if (!/^[A-Za-z0-9_-]+$/.test(stream))
    throw new UsageError(
      `--source: ${JSON.stringify(stream)} is not a stream name (letters, digits, _ and -)`,
    );
  const servers = hosts.split(',').map((h) => `nats://${h}`);
  const out: NatsSourceUrl = { servers, stream };
  for (const [k, v] of new URLSearchParams(query ?? '')) {
    if (k === 'consumer') out.consumer = v;
    else if (k === 'subject') out.subject = v;
    else throw new UsageError(`--source: unknown parameter "${k}" (consumer, subject)`);
  }
  return out;
}
