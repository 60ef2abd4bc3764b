/**
 * The pipeline's remote workers (`workers: { local, remote: { nats, run, … } }`): where the broker is,
 * which run's subjects to use, where the token is, and the bounds of the fault handling. The run name is
 * a NATS subject token, so two runs on one broker never mix.
 */
import { z } from 'zod';
import { int } from './schemas.js';
import { expecting } from './zod-errors.js';

export interface RemoteWorkersConfig {
  /** NATS server URL(s) without credentials: `nats://host:4222` or a list. */
  nats: string | string[];
  /** Subjects `hessflow.<run>.…`; workers started with `--run <run>` serve it (default "default"). */
  run?: string;
  /** NATS token from this file, or from this environment variable (never logged). */
  tokenFile?: string;
  tokenEnv?: string;
  /** Longest one task may take from ack to complete result before it is sent again (default 120000). */
  taskTimeoutMs?: number;
  /** Longest to wait for any worker to be subscribed before the step errors (default 10000). */
  noWorkerTimeoutMs?: number;
  /** How long a worker has to ack a task or answer a ping (default 2000). */
  ackTimeoutMs?: number;
  /** Pings to a worker with a task every this many ms; 3 unanswered send the task elsewhere (default 1000). */
  heartbeatMs?: number;
  /** First connection to the broker (default 5000). */
  connectTimeoutMs?: number;
}

const token = expecting(z.string().min(1), 'a non-empty string');

export const remoteWorkersSchema = z.strictObject({
  nats: expecting(
    z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    'a NATS server URL or a non-empty list of them',
  ),
  run: expecting(
    z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    '1 to 64 letters, digits, "_" or "-" (a NATS subject token)',
  ).optional(),
  tokenFile: token.optional(),
  tokenEnv: token.optional(),
  taskTimeoutMs: int(1).optional(),
  noWorkerTimeoutMs: int(1).optional(),
  ackTimeoutMs: int(1).optional(),
  heartbeatMs: int(1).optional(),
  connectTimeoutMs: int(1).optional(),
});

/** `workers`: a number of local threads, or local threads and/or remote workers. */
export const workersSchema = expecting(
  z.union([int(1), z.strictObject({ local: int(0).optional(), remote: remoteWorkersSchema.optional() })]),
  'an integer >= 1 (local threads) or { local, remote }',
);
