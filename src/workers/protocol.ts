/**
 * The typed messages between the coordinator and its piscina workers. Arrays cross by transfer (the
 * sender gives up its copy), parameters are read zero copy from the shared buffer, and a failure inside a
 * worker comes back as data (`error`) so the coordinator decides whether to retry.
 */
import type { ModelSpec } from '../nn/model.js';

/** An Error flattened for postMessage; `name` lets the receiver rebuild the right class. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/** Injected failures, for tests only: fail attempts < `times` of the matching task. */
export interface FailureHook {
  /** Gradient shard to fail (ignored by the probe worker). */
  shardIndex?: number;
  /** Step to fail (any step when absent). */
  step?: number;
  times: number;
  mode: 'throw' | 'exit';
}

/** What every worker is started with (piscina `workerData`). */
export interface WorkerInit {
  modelSpec: ModelSpec;
  layoutSize: number;
  /** The ParamStore's buffer: θ, read zero copy. */
  paramsBuffer: SharedArrayBuffer;
  /** Int32Array(1) holding the parameter version the coordinator last published. */
  versionBuffer: SharedArrayBuffer;
  /** Module URLs imported before the model is built: user code that calls `registerModel`. */
  modelModules?: string[];
  failOn?: FailureHook;
}

export interface GradientRequest {
  kind: 'gradient';
  /** Version of θ this task must read; a mismatch is a protocol error, never a silent stale read. */
  paramsVersion: number;
  step: number;
  shardIndex: number;
  /** Predictions in the whole batch: each shard's loss is scaled by 1/totalPredictions. */
  totalPredictions: number;
  /** 0 for the first try; failure hooks key on it. */
  attempt: number;
  inputs: Float32Array | Int32Array;
  inputShape: number[];
  targets: Int32Array;
  targetShape: number[];
}

export interface GradientResponse {
  shardIndex: number;
  paramsVersion: number;
  lossSum: number;
  /** Transferred back; empty when `error` is set. */
  grad: Float32Array;
  /** An op produced NaN/Inf: the step is skipped, not retried. */
  nonFinite: boolean;
  error: SerializedError | null;
}

export interface ProbeRequest {
  kind: 'probe';
  estimator: 'gnb' | 'hutchinson';
  step: number;
  seed: number;
  probes: number;
  attempt: number;
  /** Private copy of θ_step: probes run while later updates change the shared buffer. */
  params: Float32Array;
  inputs: Float32Array | Int32Array;
  inputShape: number[];
  targets: Int32Array;
  targetShape: number[];
}

export interface ProbeResponse {
  step: number;
  diag: Float32Array;
  /** Hutchinson only: loss and gradient at the same θ and batch, free with the HVP. */
  loss?: number;
  grad?: Float32Array;
  nonFinite: boolean;
  error: SerializedError | null;
}

export type WorkerRequest = GradientRequest | ProbeRequest;

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return {
      name: e.name,
      message: e.message,
      ...(e.stack ? { stack: e.stack } : {}),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: String(e) };
}
