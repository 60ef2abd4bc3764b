/**
 * The estimates a coordinator is tracking, in launch order, and the rule that picks the one due at a step.
 *
 * - deterministic: the estimate launched at t − staleness is applied at exactly t (waiting if it is
 *   late), which reproduces the synchronous runner bit for bit;
 * - async: the oldest estimate that has arrived is applied at the first step after it arrives, and an
 *   estimate never waits more than `maxStaleness` steps: at that bound the coordinator waits for it.
 * At most one estimate is folded per step. An estimate that came back non-finite is dropped (the
 * synchronous runner never queues such an estimate).
 */
import { type Observable, firstValueFrom, map, of, take } from 'rxjs';
import type { PendingEstimate, ProbeOutcome } from './records.js';

export interface DueRule {
  mode: 'deterministic' | 'async';
  /** deterministic: steps from launch to application. */
  staleness: number;
  /** async: the most steps an estimate may wait. */
  maxStaleness: number;
}

export interface InFlightEntry {
  launchedAt: number;
  result$: Observable<ProbeOutcome>;
  outcome: ProbeOutcome | null;
  error: unknown;
}

export class InFlightEstimates {
  readonly entries: InFlightEntry[] = [];

  add(launchedAt: number, result$: Observable<ProbeOutcome>): void {
    const e: InFlightEntry = { launchedAt, result$, outcome: null, error: null };
    this.entries.push(e);
    result$
      .pipe(take(1))
      .subscribe({ next: (o) => (e.outcome = o), error: (err) => (e.error = err ?? 'error') });
  }

  remove(e: InFlightEntry): void {
    const i = this.entries.indexOf(e);
    if (i >= 0) this.entries.splice(i, 1);
  }

  /**
   * A probe that failed past the retry bound has errored the run that needed it; its estimate can never
   * arrive, so once that run has ended it leaves the book: the next run goes on without it (as without a
   * non-finite one), and checkpoints no longer wait on it.
   */
  dropFailed(): void {
    for (const e of [...this.entries]) if (e.error !== null) this.remove(e);
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

  /** The estimate due at step t under `rule` (null: none), once it has arrived. */
  due(t: number, rule: DueRule): Observable<PendingEstimate | null> {
    if (rule.mode === 'deterministic') {
      const e = this.entries.find((x) => x.launchedAt + rule.staleness === t);
      return e ? this.await(e) : of(null);
    }
    for (const e of [...this.entries]) {
      if (e.error !== null) return this.await(e); // rethrows the probe's failure here
      if (e.outcome?.nonFinite) this.remove(e);
    }
    const arrived = this.entries.find((x) => x.outcome !== null);
    if (arrived) return this.await(arrived);
    const overdue = this.entries.find((x) => t - x.launchedAt >= rule.maxStaleness);
    return overdue ? this.await(overdue) : of(null);
  }

  /**
   * The estimate of `e` when it arrives. It leaves the book only then, so a checkpoint taken while the
   * coordinator waits for it still holds it (its step has not been applied yet).
   */
  private await(e: InFlightEntry): Observable<PendingEstimate | null> {
    return e.result$.pipe(
      take(1),
      map((o) => {
        this.remove(e);
        if (o.nonFinite) return null;
        return { diag: o.diag, ...(o.pair ? { pair: o.pair } : {}), launchedAt: e.launchedAt };
      }),
    );
  }
}
