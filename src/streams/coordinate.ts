/**
 * The coordinator stage, the only writer of parameters. For each step it decides which curvature estimate
 * is due, waits for it if it must, and hands step and estimate to `apply` (the optimizer update).
 *
 * - deterministic: the estimate launched at t is applied at exactly t + staleness (waiting if it is late),
 *   which reproduces the synchronous loop bit for bit;
 * - async: the oldest estimate that has arrived is applied at the first step after it arrives, and an
 *   estimate never waits more than `maxStaleness` steps: at that bound the coordinator waits for it.
 * At most one estimate is folded per step. An estimate whose launch step was non-finite, or that came back
 * non-finite, is dropped (the synchronous loop never queues such an estimate).
 */
import { type Observable, type OperatorFunction, concatMap, defer, map, of, take } from 'rxjs';
import type { PendingEstimate } from '../pipeline/step-math.js';
import type { GradientStep, ProbeOutcome } from './step.js';

export interface CoordinateOptions<M> {
  mode: 'deterministic' | 'async';
  /** deterministic: steps from launch to application. */
  staleness: number;
  /** async: the most steps an estimate may wait. */
  maxStaleness: number;
  apply: (s: GradientStep, due: PendingEstimate | null) => M;
  /** Estimates launched and not yet applied, for snapshots. */
  inFlight?: InFlightEstimates;
}

interface Entry {
  launchedAt: number;
  result$: Observable<ProbeOutcome>;
  outcome: ProbeOutcome | null;
  error: unknown;
}

/** The estimates a coordinator is tracking, in launch order. */
export class InFlightEstimates {
  readonly entries: Entry[] = [];

  add(launchedAt: number, result$: Observable<ProbeOutcome>): void {
    const e: Entry = { launchedAt, result$, outcome: null, error: null };
    this.entries.push(e);
    result$
      .pipe(take(1))
      .subscribe({ next: (o) => (e.outcome = o), error: (err) => (e.error = err ?? 'error') });
  }

  remove(e: Entry): void {
    const i = this.entries.indexOf(e);
    if (i >= 0) this.entries.splice(i, 1);
  }

  summary(): { launchedAt: number; arrived: boolean }[] {
    return this.entries.map((e) => ({ launchedAt: e.launchedAt, arrived: e.outcome !== null }));
  }
}

function await1(e: Entry): Observable<PendingEstimate | null> {
  return e.result$.pipe(
    take(1),
    map((o) => (o.nonFinite ? null : { diag: o.diag, launchedAt: e.launchedAt })),
  );
}

export function coordinate<M>(o: CoordinateOptions<M>): OperatorFunction<GradientStep, M> {
  return (source) =>
    defer(() => {
      const book = o.inFlight ?? new InFlightEstimates();
      const due = (t: number): Observable<PendingEstimate | null> => {
        if (o.mode === 'deterministic') {
          const e = book.entries.find((x) => x.launchedAt + o.staleness === t);
          if (!e) return of(null);
          book.remove(e);
          return await1(e);
        }
        for (const e of [...book.entries]) {
          if (e.error !== null) return await1(e); // rethrows the probe's failure here
          if (e.outcome?.nonFinite) book.remove(e);
        }
        const arrived = book.entries.find((x) => x.outcome !== null);
        if (arrived) {
          book.remove(arrived);
          return await1(arrived);
        }
        const overdue = book.entries.find((x) => t - x.launchedAt >= o.maxStaleness);
        if (!overdue) return of(null);
        book.remove(overdue);
        return await1(overdue);
      };
      return source.pipe(
        concatMap((s) => {
          if (s.probe && !s.gradient.nonFinite) book.add(s.probe.launchedAt, s.probe.result$);
          return due(s.step).pipe(map((d) => o.apply(s, d)));
        }),
      );
    });
}
