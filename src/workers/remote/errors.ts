/** The errors of the remote pool, each with a stable code (the worker layer's WorkerTaskError). */
import { WorkerTaskError } from '../errors.js';

export const RemoteErrors = {
  NoWorkers: (subject: string, ms: number) =>
    new WorkerTaskError(
      'ERR_NO_REMOTE_WORKERS',
      `no remote worker announced itself on ${subject} within ${ms} ms; start one with ` +
        '`hessflow worker --nats <url> --run <run>` on a host that reaches the broker',
    ),
  AckTimeout: (subject: string, ms: number) =>
    new WorkerTaskError(
      'ERR_REMOTE_ACK_TIMEOUT',
      `the remote worker picked for a task on ${subject} did not acknowledge it within ${ms} ms`,
    ),
  WorkerLost: (worker: string, why: string) =>
    new WorkerTaskError('ERR_REMOTE_WORKER_LOST', `remote worker ${worker} was lost mid-task: ${why}`),
  TaskTimeout: (what: string, ms: number) =>
    new WorkerTaskError('ERR_REMOTE_TASK_TIMEOUT', `${what}: no complete result within ${ms} ms`),
  StaleResult: (want: number, got: number) =>
    new WorkerTaskError(
      'ERR_STALE_PARAMS',
      `refused a remote result computed on θ version ${got}; the task was for version ${want}`,
    ),
  ThetaGone: (want: number, live: number) =>
    new WorkerTaskError(
      'ERR_STALE_PARAMS',
      `θ version ${want} is no longer served (the coordinator is at version ${live})`,
    ),
  TooLarge: (what: string, bytes: number, max: number) =>
    new WorkerTaskError(
      'ERR_REMOTE_TOO_LARGE',
      `${what} of ${bytes} bytes does not fit the broker's max_payload of ${max} bytes`,
    ),
  Closed: () => new WorkerTaskError('ERR_POOL_CLOSED', 'the remote pool is closed'),
} as const;
