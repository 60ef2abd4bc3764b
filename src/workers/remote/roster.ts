/**
 * The coordinator's roster of a run's live workers, from their hellos (every second, and at once when
 * the coordinator asks on the run's `roll` subject). Tasks are sent to a worker picked here, the least
 * busy per thread, rather than to a queue group: the broker keeps delivering to a client whose link is
 * cut for as long as traffic flows to it (its ping timer counts outbound writes as activity), whereas a
 * worker that stops saying hello, or that failed a task (`suspect`), is out of the roster at once.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { frame, unframe } from './frame.js';
import type { Hello } from './messages.js';
import type { RunSubjects } from './subjects.js';

/** How often workers say hello. */
export const HELLO_MS = 1000;

interface Entry {
  lastSeen: number;
  /** When it last failed a task; it is back once it says hello after that. */
  suspectSince: number;
  threads: number;
  busy: number;
}

export class WorkerRoster {
  private readonly workers = new Map<string, Entry>();
  private readonly sub: Subscription;

  /** @param goneAfterMs silence after which a worker is out (default 3.5 hellos). */
  constructor(
    nc: NatsConnection,
    subjects: RunSubjects,
    private readonly goneAfterMs = 3.5 * HELLO_MS,
  ) {
    this.sub = nc.subscribe(subjects.hello, {
      callback: (_e, m) => {
        try {
          const h = unframe<Hello>(m.data).head;
          const e = this.workers.get(h.worker);
          if (e) [e.lastSeen, e.threads] = [Date.now(), h.threads];
          else
            this.workers.set(h.worker, {
              lastSeen: Date.now(),
              suspectSince: 0,
              threads: h.threads,
              busy: 0,
            });
        } catch {
          // Not a hello: ignored.
        }
      },
    });
    nc.publish(subjects.roll, frame({}));
  }

  /** The live worker with the fewest tasks in flight per thread (null: none), now one task busier. */
  take(): string | null {
    const now = Date.now();
    let best: string | null = null;
    let load = Infinity;
    for (const [id, e] of this.workers) {
      if (now - e.lastSeen > this.goneAfterMs || e.lastSeen <= e.suspectSince) continue;
      const l = e.busy / Math.max(1, e.threads);
      if (l < load) [best, load] = [id, l];
    }
    if (best) this.workers.get(best)!.busy++;
    return best;
  }

  /** The task taken with `take` is over. */
  done(id: string): void {
    const e = this.workers.get(id);
    if (e) e.busy = Math.max(0, e.busy - 1);
  }

  /** `id` failed a task: no more tasks until it says hello again. */
  suspect(id: string): void {
    const e = this.workers.get(id);
    if (e) e.suspectSince = Date.now();
  }

  /** Workers in the roster now (live or not). */
  size(): number {
    return this.workers.size;
  }

  close(): void {
    this.sub.unsubscribe();
  }
}
