/**
 * The gradient of each step: once θ_step is in place, all its shards go to the pool at once and the
 * results are reduced in shard order (never arrival order), so the sum is the same for any worker count.
 * On a Hutchinson launch step the probe already computes loss and gradient on the whole batch; that is
 * used instead, as the synchronous loop does.
 *
 * The shard gradients `dispatch` delivers may be views of reused buffers (the pool's result slots): the
 * reduction copies them at once, before the next step's tasks can be sent, into a fresh array or one
 * from `arrays`.
 */
import {
  type ObservableInput,
  type OperatorFunction,
  concatMap,
  forkJoin,
  from,
  map,
  switchMap,
  take,
} from 'rxjs';
import type { ArrayPool } from '../optim/array-pool.js';
import { type ShardGradient } from '../step/records.js';
import { NON_FINITE_GRADIENT } from '../step/ports.js';
import { reduceShards } from '../step/shards.js';
import type { GradientStep, ParamsReady, ProbedStep } from './step.js';

export function computeGradients(
  dispatch: (s: ProbedStep, shardIndex: number) => ObservableInput<ShardGradient>,
  ready: ParamsReady,
  arrays?: ArrayPool,
): OperatorFunction<ProbedStep, GradientStep> {
  return concatMap((s) => {
    if (s.probe?.givesGradient) {
      return s.probe.result$.pipe(
        take(1),
        map((r): GradientStep => ({
          ...s,
          gradient:
            r.nonFinite || !r.grad || r.loss === undefined
              ? NON_FINITE_GRADIENT
              : { loss: r.loss, grad: r.grad, nonFinite: false },
        })),
      );
    }
    return ready(s.step).pipe(
      switchMap(() => forkJoin(s.shards.map((_, i) => from(dispatch(s, i))))),
      map((parts): GradientStep => ({ ...s, gradient: reduceShards(parts, false, arrays) })),
    );
  });
}
