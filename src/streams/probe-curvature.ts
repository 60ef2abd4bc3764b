/**
 * Launches a curvature probe on the steps the schedule names, on θ of that step (it waits until θ_step is
 * in place, then the launcher snapshots it). The probe runs hot, concurrently with later steps; the step
 * carries a replayed handle to its result for computeGradients (Hutchinson's gradient) and coordinate.
 */
import { type ObservableInput, type OperatorFunction, concatMap, from, map, of, shareReplay } from 'rxjs';
import type { ParamsReady, ProbeOutcome, ProbedStep, ShardedStep } from './step.js';

export interface ProbeCurvatureOptions {
  launchesAt: (step: number) => boolean;
  /** Starts the probe; called synchronously once θ_step is in place, so it may snapshot the parameters. */
  launch: (s: ShardedStep) => ObservableInput<ProbeOutcome>;
  givesGradient: boolean;
  ready: ParamsReady;
}

export function probeCurvature(o: ProbeCurvatureOptions): OperatorFunction<ShardedStep, ProbedStep> {
  return concatMap((s) => {
    if (!o.launchesAt(s.step)) return of({ ...s, probe: null });
    return o.ready(s.step).pipe(
      map(() => {
        const result$ = from(o.launch(s)).pipe(shareReplay(1));
        // Start it now; whoever needs the result subscribes later and sees any error.
        result$.subscribe({ error: () => undefined });
        return { ...s, probe: { launchedAt: s.step, givesGradient: o.givesGradient, result$ } };
      }),
    );
  });
}
