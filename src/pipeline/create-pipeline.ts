/**
 * `createPipeline(config)`: the streaming trainer, read top to bottom as config → pools → coordinator →
 * pipe. Batches flow source → credits → validate → shard → probeCurvature → computeGradients →
 * coordinate (each step starts computing once θ_t is in place and the pipeline is not paused), with
 * gradient shards on a piscina pool reading θ zero copy from a SharedArrayBuffer and curvature probes on
 * their own pool, both behind the coordinator's ports (pool-ports.ts). The coordinator
 * (src/step/coordinator.ts) is the only writer of θ; it publishes each new version (the step number)
 * before the next step's tasks are sent, so no task ever reads parameters mid-update.
 */
import { BehaviorSubject, Observable, Subject, defer, filter, take, takeUntil } from 'rxjs';
import type { Batch } from '../data/batch.js';
import type { GpuBackendKind } from '../gpu/host/backend.js';
import { initialParams } from '../nn/model.js';
import { buildModel } from '../nn/models/registry.js';
import { tensorLayoutOf } from '../nn/tensor-layout.js';
import { type AppliedProbe, Coordinator, type CoordinatorSnapshot } from '../step/coordinator.js';
import type { ProbeBackend, StepMetrics } from '../step/records.js';
import { WorkerPools } from '../workers/pools.js';
import type { RemotePoolStats } from '../workers/remote/remote-pool.js';
import { withCredits } from '../streams/backpressure.js';
import { computeGradients } from '../streams/compute-gradients.js';
import { coordinate } from '../streams/coordinate.js';
import type { PullSource } from '../streams/from-dataset.js';
import { pausable } from '../streams/pausable.js';
import { probeCurvature } from '../streams/probe-curvature.js';
import { shard } from '../streams/shard.js';
import type { BatchError } from '../streams/step.js';
import { validate } from '../streams/validate.js';
import { type PipelineCheckpoint, checkpointProblems } from './checkpoint.js';
import { type PipelineConfig, PipelineConfigError, resolvePipelineConfig } from './config.js';
import { workerPoolPorts } from './pool-ports.js';
import { mixedPorts, openRemoteWorkers } from './remote-ports.js';

export type { AppliedProbe } from '../step/coordinator.js';

/** The state of a pipeline now: copies of θ and the optimizer state, and the estimates in flight. */
export type PipelineSnapshot<S> = CoordinatorSnapshot<S>;

// The step floor names the probe backends without importing the gpu floor; the two must stay one set.
const sameBackends: [GpuBackendKind, ProbeBackend] extends [ProbeBackend, GpuBackendKind] ? true : never =
  true;
void sameBackends;

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
  /** With remote workers: results accepted and θ fetches per worker, refused stale results, retries. */
  remoteStats(): RemotePoolStats | null;
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
  if (c.remote && c.modelModules.length > 0)
    throw new PipelineConfigError([
      'workers.remote cannot be used with modelModules (remote workers build only the registered model kinds)',
    ]);
  if (c.remote && c.workers === 0 && c.gpu !== 'cpu')
    throw new PipelineConfigError([`gpu "${c.gpu}" needs local threads (workers.local >= 1) to probe on`]);

  // Pools: the caller's, or our own; none when every shard and probe goes to remote workers.
  const own = c.pools === undefined;
  const local = c.pools !== undefined || c.remote === null || c.workers > 0;
  const pools =
    c.pools ??
    (local
      ? new WorkerPools({
          modelSpec: c.model,
          modelModules: c.modelModules,
          layoutSize: model.layout.size,
          workers: c.workers,
          probeWorkers: c.curvature ? c.probeWorkers : 0,
          maxRetries: c.maxRetries,
          injectFailures: c.injectFailures,
          gpu: c.gpu,
        })
      : null);
  pools?.acquire();

  // The coordinator: θ in the pools' shared buffer, the only writer of it.
  const params = new Float32Array(pools?.paramsBuffer ?? new SharedArrayBuffer(model.layout.size * 4));
  const version = new Int32Array(pools?.versionBuffer ?? new SharedArrayBuffer(4));
  params.set(init);
  // Remote workers fetch θ by version from this process (θ is published in `version` either way).
  const remote = c.remote ? openRemoteWorkers(c.remote, { params, version }, c.model, c.maxRetries) : null;
  const ports = !remote
    ? workerPoolPorts(pools!)
    : pools
      ? mixedPorts(workerPoolPorts(pools), pools.gradients.threads, pools.probes !== null, remote.ports)
      : remote.ports;
  const coordinator = new Coordinator<S>({
    params,
    version,
    optimizer: c.optimizer,
    // The coordinator owns every state it holds (a resumed one is copied), so each state it replaces,
    // and each update it has applied, can be recycled: see array-pool.ts. Snapshots get copies.
    optState: resumed
      ? structuredClone(resumed.optState)
      : c.optimizer.init(params.slice(), tensorLayoutOf(model)),
    step: resumed?.step ?? 0,
    skipped: resumed?.skipped ?? 0,
    ...(resumed ? { pending: resumed.pending } : {}),
    curvature: c.curvature,
    seed: c.seed,
    rule: { mode: c.mode, staleness: c.curvature?.staleness ?? 0, maxStaleness: c.maxStaleness },
    ports,
    log: c.log,
  });
  const state = coordinator.state;

  // The pipe: source → credits → validate → shard → probeCurvature → computeGradients → coordinate.
  const errors$ = new Subject<BatchError>();
  const paused$ = new BehaviorSubject(false);
  const stop$ = new Subject<void>();
  const applied$ = new BehaviorSubject(state.step);
  // θ_t is in place once step t − 1 is applied; while paused, no new step starts computing.
  const ready = (t: number) =>
    applied$.pipe(
      filter((n) => n >= t),
      take(1),
      pausable(paused$),
    );
  let running = false;

  function run(source$: Observable<Batch> | PullSource<Batch>): Observable<StepMetrics> {
    return defer(() => {
      if (running) throw new Error('pipeline: run() while another run is active; stop() it or wait for it');
      running = true;
      coordinator.startRun();
      const credits$ = new BehaviorSubject(c.maxInFlight);
      const refused = errors$.subscribe(() => credits$.next(1));
      const steps$ = withCredits(source$, credits$, c.maxQueued).pipe(
        validate(c.batchSpec, errors$, () => state.step),
        shard(c.shards),
        probeCurvature({
          launchesAt: (t) => coordinator.launchesAt(t),
          launch: (s) => coordinator.launch(s.step, s.batch),
          givesGradient: c.curvature?.estimator === 'hutchinson',
          ready,
        }),
        computeGradients(
          (s, i) => coordinator.shardGradient(s.step, i, s.shards[i], s.batch.targets.length),
          ready,
          coordinator.arrays,
        ),
        coordinate({
          ...coordinator.rule,
          inFlight: coordinator.inFlight,
          apply: (s, due) =>
            coordinator.apply(s.step, s.gradient, s.batch.targets.length, due, !s.probe?.givesGradient),
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
            coordinator.inFlight.dropFailed();
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
    snapshot: () => coordinator.snapshot(),
    checkpoint: (): Promise<PipelineCheckpoint<S>> => coordinator.checkpoint(),
    errors$: errors$.asObservable(),
    probes$: coordinator.probes$,
    remoteStats: () => remote?.pool.stats() ?? null,
    close: async () => {
      stop$.next();
      pools?.release();
      if (own) await pools?.close();
      await remote?.close();
    },
  };
}
