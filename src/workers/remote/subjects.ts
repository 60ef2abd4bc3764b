/**
 * The NATS subjects of one run. Everything a coordinator and its remote workers say to each other lies
 * under `hessflow.<run>.`, so two runs on one broker never see each other's tasks, θ or results.
 */

/** A run name is one subject token: letters, digits, `_` and `-` (no dots, spaces or wildcards). */
export const RUN_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const DEFAULT_RUN = 'default';

export interface RunSubjects {
  /** A worker's tasks (request-reply: the worker acks at once, then computes). */
  tasks(workerId: string): string;
  /** Workers announce themselves here every second, and at once when asked on `roll`. */
  hello: string;
  roll: string;
  /** θ chunks of one coordinator session, served by that coordinator (request-reply). */
  theta(session: string): string;
  /** Where one attempt's result chunks go. */
  result(taskId: string): string;
  /** A worker answers here while it is alive; no responder means it is gone. */
  alive(workerId: string): string;
}

export function runSubjects(run: string): RunSubjects {
  if (!RUN_NAME.test(run))
    throw new RangeError(
      `run name ${JSON.stringify(run)} must be 1 to 64 letters, digits, "_" or "-" (it is a NATS subject token)`,
    );
  const base = `hessflow.${run}`;
  return {
    tasks: (workerId) => `${base}.tasks.${workerId}`,
    hello: `${base}.hello`,
    roll: `${base}.roll`,
    theta: (session) => `${base}.theta.${session}`,
    result: (taskId) => `${base}.result.${taskId}`,
    alive: (workerId) => `${base}.alive.${workerId}`,
  };
}

/** A subject token from any text (a host name, say): anything but letters, digits, `_`, `-` becomes `_`. */
export function subjectToken(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || '_';
}
