/**
 * The coordinator stage: an adapter that hands each step, with the curvature estimate due at it (waiting
 * for that estimate if it must), to `apply`. The bookkeeping and the due rule are the step floor's
 * (src/step/in-flight.ts); the pipeline's `apply` is its Coordinator's (src/step/coordinator.ts), the
 * only writer of parameters. An estimate whose launch step was non-finite is never tracked (the
 * synchronous runner never queues such an estimate).
 */
import { type OperatorFunction, concatMap, defer, map } from 'rxjs';
import { type DueRule, InFlightEstimates } from '../step/in-flight.js';
import type { PendingEstimate } from '../step/records.js';
import type { GradientStep } from './step.js';

export interface CoordinateOptions<M> extends DueRule {
  apply: (s: GradientStep, due: PendingEstimate | null) => M;
  /** Estimates launched and not yet applied, for snapshots. */
  inFlight?: InFlightEstimates;
}

export function coordinate<M>(o: CoordinateOptions<M>): OperatorFunction<GradientStep, M> {
  return (source) =>
    defer(() => {
      const book = o.inFlight ?? new InFlightEstimates();
      return source.pipe(
        concatMap((s) => {
          if (s.probe && !s.gradient.nonFinite) book.add(s.probe.launchedAt, s.probe.result$);
          return book.due(s.step, o).pipe(map((d) => o.apply(s, d)));
        }),
      );
    });
}
