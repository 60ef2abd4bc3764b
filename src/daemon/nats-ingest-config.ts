/**
 * The `ingest.nats` section of the daemon config (src/daemon/nats-ingest.ts consumes it). Kept apart
 * from the ingest itself so reading a config never loads the NATS client packages. Credentials only by
 * reference: a token file, an environment variable or a creds file; never the token itself.
 */
import { z } from 'zod';

const name = z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -');

/** The `ingest.nats` section of the daemon config. */
export const natsIngestSchema = z.strictObject({
  servers: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  stream: name,
  /** Consume only this subject of the stream (default: all of them). */
  subject: z.string().min(1).optional(),
  consumer: name.default('hessflow-daemon'),
  tokenFile: z.string().min(1).optional(),
  tokenEnv: z.string().min(1).optional(),
  credsFile: z.string().min(1).optional(),
  deadLetterSubject: z.string().min(1).optional(),
  ackWaitMs: z.number().int().min(1000).default(30_000),
  maxOutageMs: z.number().int().min(1000).default(60_000),
});

export type NatsIngestConfig = z.output<typeof natsIngestSchema>;
