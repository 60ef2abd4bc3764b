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

/**
 * Where the NATS ingest stands, stored in each daemon checkpoint (`meta.nats`): every message of the
 * consumer up to stream sequence `lastSeq` is in that checkpoint (applied, or in its saved queue), none
 * after it. A daemon resumed from the checkpoint consumes from `lastSeq + 1` and acknowledges any
 * redelivery at or below it without training, so each message is applied exactly once.
 */
export interface NatsPosition {
  stream: string;
  consumer: string;
  /** Stream sequence of the last message the checkpoint holds. */
  lastSeq: number;
  /** The daemon sequence after the checkpoint's last batch (its `nextSeq`). */
  nextDaemonSeq: number;
}

const count = z.number().int().min(0);
export const natsPositionSchema = z.strictObject({
  stream: z.string().min(1),
  consumer: z.string().min(1),
  lastSeq: count,
  nextDaemonSeq: count,
});
