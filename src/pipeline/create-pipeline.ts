/**
 * `createPipeline(config)`: the streaming trainer. Batches flow
 * source → credits → validate → shard → probeCurvature → computeGradients → coordinate (each step
 * starts computing once θ_t is in place and the pipeline is not paused),
 * with gradient shards on a piscina pool reading θ zero copy from a SharedArrayBuffer and curvature
 * probes on their own pool. The coordinator is the only writer of θ; it publishes each new version (the
 * step number) before the next step's tasks are sent, so no task ever reads parameters mid-update.
 */
import { BehaviorSubject, Observable, Subject, defer, filter, from, map, take, takeUntil } from 'rxjs';
import type { Batch } from '../data/batch.js';
import { initialParams } from '../nn/model.js';
import { ArrayPool } from '../optim/array-pool.js';
import { buildModel } from '../nn/models/registry.js';
import { tensorLayoutOf } from '../nn/tensor-layout.js';
import type { GpuBackendKind } from '../gpu/host/backend.js';
import { type CurvatureEstimator, launchesAt } from '../train/curvature-schedule.js';
import type { StepMetrics } from '../train/train.js';
import { deserializeError } from '../workers/errors.js';
import { WorkerPools } from '../workers/pools.js';
import { withCredits } from '../streams/backpressure.js';
import { computeGradients } from '../streams/compute-gradients.js';
import { InFlightEstimates, coordinate } from '../streams/coordinate.js';
import type { PullSource } from '../streams/from-dataset.js';
import { pausable } from '../streams/pausable.js';
import { probeCurvature } from '../streams/probe-curvature.js';
import { shard } from '../streams/shard.js';
import type { BatchError, ProbeOutcome } from '../streams/step.js';
import { validate } from '../streams/validate.js';
import { type PipelineCheckpoint, checkpointProblems } from './checkpoint.js';
import { type PipelineConfig, PipelineConfigError, resolvePipelineConfig } from './config.js';
import { type ShardGradient, type StepState, applyStep } from './step-math.js';

export interface PipelineSnapshot<S> {
  params: Float32Array;
  optState: S;
  step: number;
  /** Curvature estimates launched and not yet applied. */
  pending: { launchedAt: number; arrived: boolean }[];
  skipped: number;
}

/** A curvature estimate applied by the coordinator, with the time its probe worker spent computing it. */
export interface AppliedProbe {
  /** The step that launched the probe. */
  step: number;
  /** The step whose update folded the estimate in (its metrics carry `curvatureStaleness`). */
  appliedAt: number;
  estimator: CurvatureEstimator;
  /**
   * Wall time of the probe worker's computation of the estimate, in seconds (the successful attempt's
   * when it was retried; queueing and transfers excluded).
   */
  seconds: number;
}

export interface Pipeline<S> {
  /**
   * Trains on the batches of `source$` (one step per valid batch); completes when the source does. May be
   * called again once a run has ended, continuing from the last applied step; an estimate whose probe
   * failed (erroring the run that waited for it) is dropped then.
   */
  run(source$: Observable<Batch> | PullSource<Batch>): Observable<StepMetrics>;
  /** The step in progress finishes; the next one waits for resume(). */
  pause(): void;
  resume(): void;
  /** Ends the current run: its observable completes; θ stays at the last completed step. */
  stop(): void;
  /** A copy of θ. */
  params(): Float32Array;
  /** The state now: copies of θ and of the optimizer state (the pipeline reuses its own arrays). */
  snapshot(): PipelineSnapshot<S>;
  /**
   * Everything `createPipeline({ ..., resumeFrom })` needs to continue from this moment: the state now,
   * with the estimates still in flight once they arrive (rejects if one of those probes failed). Callable
   * while running: the state is the last applied step's.
   */
  checkpoint(): Promise<PipelineCheckpoint<S>>;
  /** Batches refused by validation. */
  readonly errors$: Observable<BatchError>;
  /**
   * One value per applied estimate, emitted as its step is applied (before that step's metrics). Timings
   * are metadata: they never change the arithmetic. Estimates restored by `resumeFrom` carry none.
   */
  readonly probes$: Observable<AppliedProbe>;
  /** Terminates the worker pools. */
  close(): Promise<void>;
}

export function createPipeline<S>(config: PipelineConfig<S>): Pipeline<S> {
  const c = resolvePipelineConfig(config);
  const model = buildModel(c.model);
  // Checks that can fail come before any thread is started or any pool is held.
  const resumed = c.resumeFrom;
  if (resumed) {
    const problems = checkpointProblems(resumed, model.layout.size, c.optimizer);
    if (problems.length > 0) throw new PipelineConfigError(problems);
  }
  const init = resumed?.params ?? c.initialParams ?? (initialParams(model, c.seed) as Float32Array);
  if (init.length !== model.layout.size)
    throw new RangeError(
      `createPipeline: initialParams has ${init.length} values, the model has ${model.layout.size}`,
    );
  if (c.pools && c.pools.paramsBuffer.byteLength !== model.layout.size * 4)
    throw new RangeError(
      `createPipeline: the pools hold ${c.pools.paramsBuffer.byteLength / 4} parameters, the model has ${model.layout.size}`,
    );
  if (c.pools && JSON.stringify(c.pools.options.modelSpec) !== JSON.stringify(c.model))
    throw new RangeError('createPipeline: the pools were started for another model spec');
  if (c.curvature && c.pools && !c.pools.probes)
    throw new RangeError('createPipeline: curvature is configured but the pools have no probe workers');
  const own = c.pools === undefined;
  const pools =
    c.pools ??
    new WorkerPools({
      modelSpec: c.model,
      modelModules: c.modelModules,
      layoutSize: model.layout.size,
      workers: c.workers,
      probeWorkers: c.curvature ? c.probeWorkers : 0,
      maxRetries: c.maxRetries,
      injectFailures: c.injectFailures,
      gpu: c.gpu,
    });
  pools.acquire();
  const { gradients, probes } = pools;
  const version = new Int32Array(pools.versionBuffer);
  const params = new Float32Array(pools.paramsBuffer);
  params.set(init);
  const arrays = new ArrayPool();
  const state: StepState<S> = {
    params,
    // The coordinator owns every state it holds (a resumed one is copied), so each state it replaces,
    // and each update it has applied, can be recycled: see array-pool.ts. Snapshots get copies.
    optState: resumed
      ? structuredClone(resumed.optState)
      : c.optimizer.init(params.slice(), tensorLayoutOf(model)),
    step: resumed?.step ?? 0,
    pending: [],
    skipped: resumed?.skipped ?? 0,
  };
  // Workers read θ only at the version of the step they compute.
  Atomics.store(version, 0, state.step);

  const errors$ = new Subject<BatchError>();
  const probes$ = new Subject<AppliedProbe>();
  const paused$ = new BehaviorSubject(false);
  const stop$ = new Subject<void>();
  const applied$ = new BehaviorSubject(state.step);
  const inFlight = new InFlightEstimates();
  if (resumed) inFlight.restore(resumed.pending);
  // θ_t is in place once step t − 1 is applied; while paused, no new step starts computing.
  const ready = (t: number) =>
    applied$.pipe(
      filter((n) => n >= t),
      take(1),
      pausable(paused$),
    );
  let running = false;

  const dispatch = (s: { step: number; shards: Batch[]; batch: Batch }, i: number) =>
    from(gradients.gradient(s.step, i, s.shards[i], s.batch.targets.length, s.step)).pipe(
      map((r): ShardGradient => ({ loss: r.lossSum, grad: r.grad, nonFinite: r.nonFinite })),
    );

  // Which backend computed each estimate still to be applied (by launch step), for that step's metrics,
  // and how long its probe worker took, for probes$.
  const computedBy = new Map<number, { backend?: GpuBackendKind; notes?: string[]; seconds?: number }>();

  const launch = (s: { step: number; batch: Batch }) => {
    const cv = c.curvature!;
    // A private copy of θ_t: the probe runs while later updates change the shared buffer.
    const task = {
      estimator: cv.estimator,
      step: s.step,
      seed: c.seed,
      probes: cv.probes,
      params: params.slice(),
      batch: s.batch,
    };
    return from(probes!.probe(task)).pipe(
      map((r): ProbeOutcome => {
        if (r.error) throw deserializeError(r.error);
        for (const line of r.notes ?? []) c.log(line);
        if (r.backend || r.seconds !== undefined)
          computedBy.set(s.step, {
            ...(r.backend ? { backend: r.backend } : {}),
            ...(r.notes ? { notes: r.notes } : {}),
            ...(r.seconds !== undefined ? { seconds: r.seconds } : {}),
          });
        return {
          diag: r.diag,
          ...(r.v && r.hv ? { pair: { v: r.v, hv: r.hv } } : {}),
          nonFinite: r.nonFinite,
          ...(r.grad ? { grad: r.grad, loss: r.loss } : {}),
        };
      }),
    );
  };

  // A probe that failed past the retry bound has errored the run that needed it; its estimate can never
  // arrive, so once that run has ended it leaves the book: the next run goes on without it (as without a
  // non-finite one), and checkpoints no longer wait on it.
  const dropFailedEstimates = () => {
    for (const e of [...inFlight.entries]) if (e.error !== null) inFlight.remove(e);
  };

  function run(source$: Observable<Batch> | PullSource<Batch>): Observable<StepMetrics> {
    return defer(() => {
      if (running) throw new Error('pipeline: run() while another run is active; stop() it or wait for it');
      running = true;
      dropFailedEstimates();
      const credits$ = new BehaviorSubject(c.maxInFlight);
      const refused = errors$.subscribe(() => credits$.next(1));
      let last = performance.now();
      const steps$ = withCredits(source$, credits$, c.maxQueued).pipe(
        validate(c.batchSpec, errors$, () => state.step),
        shard(c.shards),
        probeCurvature({
          launchesAt: (t) => c.curvature !== null && launchesAt(c.curvature, t),
          launch,
          givesGradient: c.curvature?.estimator === 'hutchinson',
          ready,
        }),
        computeGradients(dispatch, ready, arrays),
        coordinate({
          mode: c.mode,
          staleness: c.curvature?.staleness ?? 0,
          maxStaleness: c.maxStaleness,
          inFlight,
          apply: (s, due) => {
            if (s.step !== state.step)
              throw new Error(`pipeline: step ${s.step} arrived, expected ${state.step}`);
            const m = applyStep(
              state,
              c.optimizer,
              s.gradient,
              s.batch.targets.length,
              due,
              arrays,
              c.curvature?.estimator,
            );
            // A reduced gradient is the coordinator's own; a Hutchinson probe's stays with its result.
            if (!s.probe?.givesGradient) arrays.give(s.gradient.grad);
            if (due) {
              const by = computedBy.get(due.launchedAt);
              if (by?.backend && m.curvatureStaleness !== undefined) {
                m.probeBackend = by.backend;
                if (by.notes) m.probeNotes = by.notes;
              }
              if (by?.seconds !== undefined && m.curvatureStaleness !== undefined)
                probes$.next({
                  step: due.launchedAt,
                  appliedAt: s.step,
                  estimator: c.curvature!.estimator,
                  seconds: by.seconds,
                });
              // Estimates launched up to this one are applied or dropped: forget them.
              for (const k of computedBy.keys()) if (k <= due.launchedAt) computedBy.delete(k);
            }
            // Publish θ_{t+1}: workers check this version before reading the shared buffer.
            Atomics.store(version, 0, state.step);
            const now = performance.now();
            m.ms = now - last;
            last = now;
            return m;
          },
        }),
      );
      return new Observable<StepMetrics>((subscriber) => {
        const sub = steps$.subscribe({
          next: (m) => {
            // Metrics first, so a subscriber that calls pause() or stop() on step t's metrics keeps
            // step t + 1 from starting; then let the next step start and grant one more batch.
            subscriber.next(m);
            // θ_{t+1} is in place either way (a later run starts from it); a stopped run has already
            // torn its stages down, so nothing of it starts again.
            applied$.next(state.step);
            if (!subscriber.closed) credits$.next(1);
          },
          error: (e) => {
            dropFailedEstimates();
            subscriber.error(e);
          },
          complete: () => subscriber.complete(),
        });
        return () => {
          sub.unsubscribe();
          refused.unsubscribe();
          running = false;
        };
      }).pipe(takeUntil(stop$));
    });
  }

  return {
    run,
    pause: () => paused$.next(true),
    resume: () => paused$.next(false),
    stop: () => stop$.next(),
    params: () => params.slice(),
    snapshot: () => ({
      params: params.slice(),
      optState: structuredClone(state.optState),
      step: state.step,
      pending: inFlight.summary(),
      skipped: state.skipped,
    }),
    checkpoint: async () => {
      // This moment's state (no step is half-applied: the coordinator applies a step synchronously);
      // only the values of estimates still in flight are awaited.
      const at = {
        params: params.slice(),
        optState: structuredClone(state.optState),
        step: state.step,
        skipped: state.skipped,
      };
      return { ...at, pending: await inFlight.settled(at.step) };
    },
    errors$: errors$.asObservable(),
    probes$: probes$.asObservable(),
    close: async () => {
      stop$.next();
      pools.release();
      if (own) await pools.close();
    },
  };
}
