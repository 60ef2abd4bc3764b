/**
 * The pipeline's coordinator: the only writer of θ. It owns the parameter buffer its pool reads, the
 * version it publishes there, the optimizer state, the book of estimates in flight, the step's apply
 * (the step rule of apply.ts, exactly as the synchronous runner applies it) and the record of applied
 * probes (`probes$`). It reaches its workers only through its ports, so a pool of threads, a remote
 * pool or a test double are all the same to it; the stream stages around it (src/streams) only order
 * the work and hand each step to it.
 */
import { type Observable, Subject, from, map } from 'rxjs';
import type { Batch } from '../data/batch.js';
import { ArrayPool } from '../optim/array-pool.js';
import type { GradientTransformation } from '../optim/transform.js';
import { applyStep } from './apply.js';
import { carryState } from './event.js';
import { type CurvatureEstimator, type ResolvedCurvature, launchesAt } from './curvature-schedule.js';
import { type DueRule, InFlightEstimates } from './in-flight.js';
import type { PoolPorts, ProbeResult } from './ports.js';
import type {
  PendingEstimate,
  ProbeBackend,
  ProbeOutcome,
  ShardGradient,
  StepMetrics,
  StepState,
  TrainedState,
} from './records.js';

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

export interface CoordinatorOptions<S> {
  /** θ_step: the buffer the pool reads (shared memory for worker threads); updated in place. */
  params: Float32Array;
  /** Where the version of θ (the step it belongs to) is published for the workers. */
  version?: Int32Array;
  optimizer: GradientTransformation<S>;
  /** The state to continue from; the coordinator owns it from now on (pass a copy of one kept elsewhere). */
  optState: S;
  step: number;
  skipped: number;
  /** Estimates of a checkpoint, applied on their steps as if they had just arrived. */
  pending?: readonly PendingEstimate[];
  curvature: ResolvedCurvature | null;
  seed: number;
  rule: DueRule;
  ports: PoolPorts;
  /** Where the probes' notes (backend chosen, fallbacks) go. */
  log: (line: string) => void;
}

/** The state of a coordinator now, with the estimates in flight summarized. */
export interface CoordinatorSnapshot<S> extends Omit<StepState<S>, 'pending'> {
  /** Curvature estimates launched and not yet applied. */
  pending: { launchedAt: number; arrived: boolean }[];
}

interface ProbeMeta {
  backend?: ProbeBackend;
  notes?: string[];
  seconds?: number;
}

export class Coordinator<S> {
  /** θ (in place), optimizer state, next step, skipped count; the estimates in flight are in `inFlight`. */
  readonly state: StepState<S>;
  readonly inFlight = new InFlightEstimates();
  /** Arrays the reduction and the optimizer reuse: the coordinator owns every state it holds. */
  readonly arrays = new ArrayPool();
  readonly probes$: Observable<AppliedProbe>;
  readonly rule: DueRule;
  private readonly applied = new Subject<AppliedProbe>();
  // Which backend computed each estimate still to be applied (by launch step), for that step's
  // metrics, and how long its probe worker took, for probes$.
  private readonly computedBy = new Map<number, ProbeMeta>();
  private last = performance.now();

  constructor(private readonly o: CoordinatorOptions<S>) {
    this.state = { params: o.params, optState: o.optState, step: o.step, pending: [], skipped: o.skipped };
    this.rule = o.rule;
    this.probes$ = this.applied.asObservable();
    if (o.pending) this.inFlight.restore(o.pending);
    // Workers read θ only at the version of the step they compute.
    this.publish();
  }

  /** Whether an estimate is launched at step t. */
  launchesAt(t: number): boolean {
    return this.o.curvature !== null && launchesAt(this.o.curvature, t);
  }

  /**
   * Starts the probe of step `step` on a private copy of θ_step: call it once θ_step is in place. The
   * probe runs while later updates change the shared buffer.
   */
  launch(step: number, batch: Batch): Observable<ProbeOutcome> {
    const cv = this.o.curvature;
    if (!cv) throw new Error('coordinator: a probe was launched but no curvature is configured');
    const task = {
      estimator: cv.estimator,
      step,
      seed: this.o.seed,
      probes: cv.probes,
      params: this.state.params.slice(),
      batch,
    };
    return from(this.o.ports.probe(task)).pipe(map((r) => this.arrived(step, r)));
  }

  /** One shard's loss part and gradient at θ_step (published as version `step`). */
  shardGradient(step: number, shardIndex: number, shard: Batch, totalPredictions: number) {
    return from(this.o.ports.gradient(step, shardIndex, shard, totalPredictions));
  }

  /**
   * Applies step `step` (which must be the next one): the step rule on its gradient and the due
   * estimate, then θ_{step+1} is published. `ownsGradient`: the gradient is the coordinator's own (a
   * reduction), so its array is reused once applied; a Hutchinson probe's stays with its result.
   */
  apply(
    step: number,
    gradient: ShardGradient,
    predictions: number,
    due: PendingEstimate | null,
    ownsGradient: boolean,
  ): StepMetrics {
    const state = this.state;
    if (step !== state.step) throw new Error(`pipeline: step ${step} arrived, expected ${state.step}`);
    const cv = this.o.curvature;
    const m = applyStep(state, this.o.optimizer, gradient, predictions, due, this.arrays, cv?.estimator);
    if (ownsGradient) this.arrays.give(gradient.grad);
    if (due) this.appliedEstimate(due, step, m);
    this.publish();
    const now = performance.now();
    m.ms = now - this.last;
    this.last = now;
    return carryState(m, this.after);
  }

  /**
   * The state after the latest step, for the sinks: θ is the live buffer (a reader copies what it
   * keeps), the optimizer state a copy made when read (the coordinator recycles its own arrays).
   */
  private readonly after = (): TrainedState => {
    const s = this.state;
    return {
      step: s.step,
      params: s.params,
      get optState() {
        return structuredClone(s.optState);
      },
    };
  };

  /** A run begins: step times count from now; estimates whose probes failed leave the book. */
  startRun(): void {
    this.inFlight.dropFailed();
    this.last = performance.now();
  }

  /** Copies of θ and of the optimizer state (the coordinator reuses its own arrays). */
  snapshot(): CoordinatorSnapshot<S> {
    return {
      params: this.state.params.slice(),
      optState: structuredClone(this.state.optState),
      step: this.state.step,
      pending: this.inFlight.summary(),
      skipped: this.state.skipped,
    };
  }

  /**
   * This moment's state (no step is half-applied: a step is applied synchronously) with the values of
   * the estimates still in flight once they arrive; rejects if one of those probes failed.
   */
  async checkpoint(): Promise<StepState<S>> {
    const s = this.state;
    const at = {
      params: s.params.slice(),
      optState: structuredClone(s.optState),
      step: s.step,
      skipped: s.skipped,
    };
    return { ...at, pending: await this.inFlight.settled(at.step) };
  }

  private publish(): void {
    if (this.o.version) Atomics.store(this.o.version, 0, this.state.step);
  }

  private arrived(step: number, r: ProbeResult): ProbeOutcome {
    for (const line of r.notes ?? []) this.o.log(line);
    if (r.backend || r.seconds !== undefined)
      this.computedBy.set(step, {
        ...(r.backend ? { backend: r.backend } : {}),
        ...(r.notes ? { notes: r.notes } : {}),
        ...(r.seconds !== undefined ? { seconds: r.seconds } : {}),
      });
    return {
      diag: r.diag,
      ...(r.pair ? { pair: r.pair } : {}),
      nonFinite: r.nonFinite,
      ...(r.grad ? { grad: r.grad, loss: r.loss } : {}),
    };
  }

  private appliedEstimate(due: PendingEstimate, step: number, m: StepMetrics): void {
    const by = this.computedBy.get(due.launchedAt);
    if (by?.backend && m.curvatureStaleness !== undefined) {
      m.probeBackend = by.backend;
      if (by.notes) m.probeNotes = by.notes;
    }
    if (by?.seconds !== undefined && m.curvatureStaleness !== undefined)
      this.applied.next({
        step: due.launchedAt,
        appliedAt: step,
        estimator: this.o.curvature!.estimator,
        seconds: by.seconds,
      });
    // Estimates launched up to this one are applied or dropped: forget them.
    for (const k of this.computedBy.keys()) if (k <= due.launchedAt) this.computedBy.delete(k);
  }
}
