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
import {
  type Observable,
  type OperatorFunction,
  concatMap,
  defer,
  firstValueFrom,
  map,
  of,
  take,
} from 'rxjs';
import type { PendingEstimate } from '../step/records.js';
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

  /** Estimates that had arrived before a pipeline stopped, to be applied by the one resuming it. */
  restore(pending: readonly PendingEstimate[]): void {
    for (const p of pending)
      this.add(p.launchedAt, of({ diag: p.diag, ...(p.pair ? { pair: p.pair } : {}), nonFinite: false }));
  }

  /**
   * The values of the estimates launched before step `before` and not yet applied, once all have
   * arrived; a non-finite one is left out (it would be dropped), a failed probe rejects with its error.
   * The list of estimates is taken now, so the result belongs with the state of this moment.
   */
  async settled(before: number): Promise<PendingEstimate[]> {
    const out: PendingEstimate[] = [];
    for (const e of this.entries.filter((x) => x.launchedAt < before)) {
      const o = await firstValueFrom(e.result$);
      if (!o.nonFinite) {
        const pair = o.pair && { v: o.pair.v.slice(), hv: o.pair.hv.slice() };
        out.push({ diag: o.diag.slice(), ...(pair ? { pair } : {}), launchedAt: e.launchedAt });
      }
    }
    return out;
  }
}

/**
 * The estimate of `e` when it arrives. It leaves the book only then, so a checkpoint taken while the
 * coordinator waits for it still holds it (its step has not been applied yet).
 */
function await1(book: InFlightEstimates, e: Entry): Observable<PendingEstimate | null> {
  return e.result$.pipe(
    take(1),
    map((o) => {
      book.remove(e);
      if (o.nonFinite) return null;
      return { diag: o.diag, ...(o.pair ? { pair: o.pair } : {}), launchedAt: e.launchedAt };
    }),
  );
}

export function coordinate<M>(o: CoordinateOptions<M>): OperatorFunction<GradientStep, M> {
  return (source) =>
    defer(() => {
      const book = o.inFlight ?? new InFlightEstimates();
      const due = (t: number): Observable<PendingEstimate | null> => {
        if (o.mode === 'deterministic') {
          const e = book.entries.find((x) => x.launchedAt + o.staleness === t);
          return e ? await1(book, e) : of(null);
        }
        for (const e of [...book.entries]) {
          if (e.error !== null) return await1(book, e); // rethrows the probe's failure here
          if (e.outcome?.nonFinite) book.remove(e);
        }
        const arrived = book.entries.find((x) => x.outcome !== null);
        if (arrived) return await1(book, arrived);
        const overdue = book.entries.find((x) => t - x.launchedAt >= o.maxStaleness);
        return overdue ? await1(book, overdue) : of(null);
      };
      return source.pipe(
        concatMap((s) => {
          if (s.probe && !s.gradient.nonFinite) book.add(s.probe.launchedAt, s.probe.result$);
          return due(s.step).pipe(map((d) => o.apply(s, d)));
        }),
      );
    });
}
