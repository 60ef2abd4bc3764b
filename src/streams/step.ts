/**
 * What moves between the stages: a batch gains its step number (validate), its shards (shard), the probe
 * launched on it (probeCurvature) and its reduced gradient (computeGradients) before the coordinator
 * turns it into an update. Each stage adds fields and never mutates earlier ones.
 */
import type { Observable } from 'rxjs';
import type { Batch } from '../data/batch.js';
import type { ProbeOutcome, ShardGradient } from '../step/records.js';

// A probe's outcome is a step record; stages and their tests name it from here too.
export type { ProbeOutcome } from '../step/records.js';

export interface StepInput {
  step: number;
  batch: Batch;
}

export interface ShardedStep extends StepInput {
  /** The batch's shards in shard order; their count is fixed by config, not by the worker count. */
  shards: Batch[];
}

export interface LaunchedProbe {
  launchedAt: number;
  /** Hutchinson: the step's loss and gradient come from the probe instead of the gradient workers. */
  givesGradient: boolean;
  /** Hot and replayed: the probe runs from launch whether or not anyone listens yet. */
  result$: Observable<ProbeOutcome>;
}

export interface ProbedStep extends ShardedStep {
  probe: LaunchedProbe | null;
}

export interface GradientStep extends ProbedStep {
  gradient: ShardGradient;
}

/** A batch refused by validation, on the error channel instead of the optimizer. */
export interface BatchError {
  /** The step the batch would have been. */
  step: number;
  reason: string;
  message: string;
  id?: string | number;
}

/** Emits (then completes) once θ_step is in place, i.e. the coordinator has applied step − 1. */
export type ParamsReady = (step: number) => Observable<unknown>;
