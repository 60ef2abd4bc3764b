/**
 * The records of one training step, shared by every runner (Trainer, referenceLoop, the pipeline's
 * coordinator) and every floor above them. This floor imports nothing above the lower floors (tensor,
 * nn, optim, curvature, data), so streams, workers and gpu can all speak of steps without a cycle.
 */

/** Held-out evaluation of θ: mean cross-entropy and accuracy over fixed batches. */
export interface EvalResult {
  loss: number;
  accuracy: number;
  predictions: number;
}

/**
 * Where a probe computed its estimate: the gpu floor's `GpuBackendKind`, spelled out here so this
 * floor never imports from gpu (src/gpu/host/probe-host.ts checks the two stay the same).
 */
export type ProbeBackend = 'webgpu' | 'webasm' | 'cpu';

export interface StepMetrics {
  step: number;
  loss: number;
  gradNorm: number;
  updateNorm: number;
  /** Predictions in the batch (tokens for an LM). */
  predictions: number;
  skipped: boolean;
  /** Set on steps where a curvature estimate was applied: how many steps after its launch. */
  curvatureStaleness?: number;
  /**
   * Pipeline with gpu other than 'cpu', on steps where an estimate was applied: the backend that
   * computed it ('cpu' also after a GPU failure).
   */
  probeBackend?: ProbeBackend;
  /** With `probeBackend`: what the probe worker logged while computing that estimate (backend chosen
   * and why, why it fell back to the CPU). */
  probeNotes?: string[];
  winRate?: number;
  hMean?: number;
  eval?: EvalResult;
  ms: number;
}

/** A curvature estimate waiting for its step: the diagonal, or (hvp-pair) an empty diagonal and the pair. */
export interface PendingEstimate {
  diag: Float32Array;
  /** 'hvp-pair' only: the probe direction v and H·v at θ of the launch step. */
  pair?: { v: Float32Array; hv: Float32Array };
  launchedAt: number;
}

/**
 * What a runner carries from step to step: θ, the optimizer state, the next step, the estimates launched
 * and not yet applied, and how many steps were skipped. `applyStep` updates it in place.
 */
export interface StepState<S = unknown> {
  params: Float32Array;
  optState: S;
  step: number;
  pending: PendingEstimate[];
  skipped: number;
}

/** What the sinks read after a step: θ after it and the optimizer state. */
export interface TrainedState {
  /** Steps applied so far (θ is θ_step). */
  step: number;
  /** θ_step; a reader copies it when it keeps it past the call (a pipeline updates it in place). */
  params: Float32Array;
  optState: unknown;
}

/** One shard's (or a whole batch's) loss and gradient; `nonFinite` when an op raised NonFiniteError. */
export interface ShardGradient {
  loss: number;
  grad: Float32Array;
  nonFinite: boolean;
}

/**
 * What a probe delivers: the diagonal estimate (empty for 'hvp-pair', which delivers `pair`) and, for
 * Hutchinson, the step's loss and gradient.
 */
export interface ProbeOutcome {
  diag: Float32Array;
  pair?: { v: Float32Array; hv: Float32Array };
  loss?: number;
  grad?: Float32Array;
  /** An op produced NaN/Inf: the estimate is dropped (and, when it carried the gradient, the step skipped). */
  nonFinite: boolean;
}
