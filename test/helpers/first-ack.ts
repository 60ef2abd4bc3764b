/**
 * Acts the moment a given remote worker acks a task: acks cross on the coordinator's request inbox, so a
 * connection of the coordinator's process that listens on `_INBOX.>` sees them. The first ack from
 * `worker` once `armed()` holds calls `act` (once); the task it acks is then in that worker's hands and
 * unfinished (it still has to fetch θ of that step from the coordinator).
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { unframe } from '../../src/workers/remote/frame.js';

export function onFirstAck(
  nc: NatsConnection,
  worker: string,
  armed: () => boolean,
  act: () => void,
): Subscription {
  let done = false;
  return nc.subscribe('_INBOX.>', {
    callback: (_e, m) => {
      if (done || !armed()) return;
      try {
        if (unframe<{ worker?: string }>(m.data).head.worker !== worker) return;
      } catch {
        return; // not an ack
      }
      done = true;
      act();
    },
  });
}
