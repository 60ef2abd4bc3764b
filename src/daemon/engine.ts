/**
 * The training engine behind the daemon: `TrainingEngine` is what the servers and the checkpoint store
 * talk to (`TrainerEngine` in trainer-engine.ts implements it over the synchronous `Trainer`,
 * `PipelineEngine` in pipeline-engine.ts over the streaming `createPipeline`). Batches
 * are validated before they are accepted, so an engine's queue only ever holds batches it can use.
 */
import type { Batch } from '../data/batch.js';
import type { BatchSpec } from '../data/validate.js';
import type { ParamLayoutEntry } from '../io/param-layout.js';
import type { Model } from '../nn/model.js';
import type { CurvatureEstimate, CurvatureEstimator } from '../step/curvature-schedule.js';
import type { EvalResult } from '../step/records.js';
import type { StepMetrics } from '../step/records.js';
import type { QueuedBatch } from './batch-queue.js';
import type { Divergence } from './divergence.js';
import type { NatsPosition } from './nats-ingest-config.js';

/**
 * What ingest checks a batch against before acknowledging it: the model's `BatchSpec` plus the daemon's
 * bound on feature magnitude (`maxFeatureMagnitude`; 0 = none). A valid batch with features near the
 * float32 limit can push θ to where every later step is skipped (#21 item 6), so it is refused up front.
 */
export interface IngestSpec extends BatchSpec {
  maxFeatureMagnitude: number;
}

/** Default `maxFeatureMagnitude`: far beyond normalized data, far below what overflows a float32 step. */
export const DEFAULT_MAX_FEATURE_MAGNITUDE = 1e6;
/** Default `divergenceSteps`: consecutive skipped steps that mean training diverged. */
export const DEFAULT_DIVERGENCE_STEPS = 10;

/** Everything needed to continue training exactly where it stopped (what a checkpoint holds). */
export interface EngineSnapshot {
  params: Float32Array;
  layout: ParamLayoutEntry[];
  optState: unknown;
  step: number;
  pending: CurvatureEstimate[];
  skipped: number;
  /** Accepted batches not yet applied, in order. */
  queue: QueuedBatch[];
  /** Sequence number of the next accepted batch. */
  nextSeq: number;
  /** Paused when the snapshot was taken: a daemon restarted from it comes back paused. */
  paused: boolean;
  /** The optimizer's config name (a resume with another optimizer is refused); absent in old checkpoints. */
  optimizer?: string;
  /** Set when training had diverged: a daemon restarted from it stays stopped (absent in old checkpoints). */
  diverged?: Divergence | null;
  /** The NATS ingest's position (set by the daemon, not the engine; absent without `ingest.nats`). */
  nats?: NatsPosition;
}

export interface EngineStatus {
  step: number;
  /** Number of parameter updates applied (steps not skipped). */
  paramsVersion: number;
  skipped: number;
  paused: boolean;
  optimizer: { name: string; hyperparams: Record<string, number> };
  queueDepth: number;
  queueLimit: number;
  nextSeq: number;
  backend: 'cpu';
  lastLoss: number | null;
  /**
   * Set while training is halted by a step that failed for a reason other than its batch (the batch is
   * kept at the head of the queue; `POST /v1/resume` retries it): the error and the batch's seq.
   */
  halted: { error: string; seq: number } | null;
  /**
   * Set once `divergenceSteps` consecutive steps were skipped (non-finite loss, gradient, update or state
   * on batches that passed validation): training stops, the queue is kept, ingest answers 503 `diverged`.
   */
  diverged: Divergence | null;
}

export interface AppliedStep {
  seq: number;
  metrics: StepMetrics;
}

/** One curvature probe: the step that launched it and its wall time. */
export interface ProbeTiming {
  step: number;
  estimator: CurvatureEstimator;
  seconds: number;
}

export interface TrainingEngine {
  readonly batchSpec: IngestSpec;
  /** status().queueDepth, cheaply (read after every step: the pipeline's status() copies θ and state). */
  readonly queueDepth: number;
  /** status().halted, cheaply (asked on every ingest). */
  readonly halted: EngineStatus['halted'];
  /** status().diverged, cheaply (asked on every ingest). */
  readonly diverged: Divergence | null;
  /** Accepts a validated batch: its sequence number, or null when the queue is full. */
  submit(batch: Batch): number | null;
  /** Resolves when the queue has room (a waiting producer gets every other freed slot). */
  whenRoom(): Promise<void>;
  status(): EngineStatus;
  pause(): void;
  resume(): void;
  /** Sets hyperparameters for the following steps; throws an IngestError on an unknown name or bad value. */
  setHyperparams(values: Record<string, unknown>): Record<string, number>;
  /**
   * The state now (taken synchronously between steps). A streaming engine may resolve it later, once the
   * curvature estimates still in flight have arrived; successive snapshots resolve in call order.
   */
  snapshot(): EngineSnapshot | Promise<EngineSnapshot>;
  /** The current parameters as safetensors bytes. */
  weights(): Uint8Array;
  evaluate(batch: Batch): EvalResult;
  /** Starts taking queued batches. */
  start(): void;
  /** Stops after the step in progress (there is at most one) and releases any worker threads. */
  stop(): Promise<void>;
  onStep(listener: (s: AppliedStep) => void): void;
  /** `dropped`: the batch was taken off the queue; false: it is kept and training halted (status().halted). */
  onError(listener: (e: Error, seq: number, dropped: boolean) => void): void;
  onProbe(listener: (p: ProbeTiming) => void): void;
  /** Called once when training diverges (status().diverged is set by then). */
  onDiverged(listener: (d: Divergence) => void): void;
}

/** The model's batch spec with the ingest bound on feature magnitude. */
export function ingestSpecOf(model: Model, maxFeatureMagnitude: number): IngestSpec {
  if (!(maxFeatureMagnitude >= 0))
    throw new RangeError(`maxFeatureMagnitude must be a number >= 0, got ${maxFeatureMagnitude}`);
  return { ...batchSpecOfModel(model), maxFeatureMagnitude };
}

export function batchSpecOfModel(model: Model): BatchSpec {
  const spec = model.spec as { kind: string; sizes?: number[]; blockSize?: number; vocabSize?: number };
  if (spec.kind === 'mlp' && spec.sizes) {
    return {
      inputKind: 'float',
      featureShape: [spec.sizes[0]],
      targetKind: 'int',
      targetShape: [],
      numClasses: model.numClasses,
    };
  }
  if (spec.kind === 'gpt' && spec.blockSize) {
    return {
      inputKind: 'int',
      featureShape: [spec.blockSize],
      targetKind: 'int',
      targetShape: [spec.blockSize],
      numClasses: model.numClasses,
      vocabSize: spec.vocabSize ?? model.numClasses,
    };
  }
  throw new RangeError(`daemon: no batch spec is known for model kind "${spec.kind}"`);
}
