/**
 * The synchronous `Trainer` as a stream of step metrics: one step per macrotask, so timers, I/O and
 * signals run between steps, and stages written for the pipeline (evaluation, sinks) work unchanged on
 * the reference loop. Unsubscribing (e.g. `takeUntil`) stops it between two steps; a step that throws
 * (an invalid batch) errors the stream.
 */
import { Observable } from 'rxjs';
import type { StepMetrics } from '../step/records.js';

/** What is needed of a Trainer. */
export interface SteppedLoop {
  done(): boolean;
  step(): StepMetrics;
}

export function fromTrainer(trainer: SteppedLoop): Observable<StepMetrics> {
  if (typeof trainer?.step !== 'function' || typeof trainer.done !== 'function')
    throw new TypeError('fromTrainer: needs a Trainer (an object with step() and done())');
  return new Observable<StepMetrics>((subscriber) => {
    let timer: NodeJS.Immediate | undefined;
    const tick = () => {
      if (subscriber.closed) return;
      if (trainer.done()) return subscriber.complete();
      try {
        subscriber.next(trainer.step());
      } catch (e) {
        return subscriber.error(e);
      }
      timer = setImmediate(tick);
    };
    timer = setImmediate(tick);
    return () => clearImmediate(timer);
  });
}
