/**
 * The typed messages between the coordinator and its piscina workers.
 *
 * On the wire every message is a small msgpack-encoded head (the scalar and nested fields: step,
 * shapes, an error with its name, code and stack) beside the large arrays, which never go through an
 * encoder: a gradient task reads its shard from a SharedArrayBuffer slot and θ zero copy from the shared
 * parameter buffer, and gradients, estimates and probe inputs cross by transfer (the sender gives up
 * its copy). A failure inside a worker comes back as data (`error`) so the coordinator decides whether
 * to retry. Callers of the pools only see the decoded interfaces below.
 */
import { Packr } from 'msgpackr';
import type { GpuBackendKind, GpuPreference } from '../gpu/host/backend.js';
import type { GpuFailureHook } from '../gpu/host/probe-host.js';
import type { ModelSpec } from '../nn/model.js';
import type { CurvatureEstimator } from '../step/curvature-schedule.js';

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

// Injected GPU failures belong to the device host (gpu/host/probe-host.ts); workers are told of them here.
export type { GpuFailureHook } from '../gpu/host/probe-host.js';

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
  /** Where the probe worker computes the estimates it can run on a device (absent: 'cpu'). */
  gpu?: GpuPreference;
  gpuFailOn?: GpuFailureHook;
}

/** Element type of a batch array on the wire (both are 4 bytes wide, so one slot holds either). */
export type ArrayKind = 'f32' | 'i32';

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
  targets: Int32Array | Float32Array;
  targetShape: number[];
}

/**
 * A gradient task as sent: the head holds every field but the arrays; the shard's inputs and then its
 * targets lie at the start of `slot`, a SharedArrayBuffer the pool reuses for this shard index, so
 * nothing is copied per attempt and a retry reads the same bytes. The worker writes the gradient into
 * `result` (also reused per shard index) and answers with a head only.
 */
export interface GradientWire {
  head: Uint8Array;
  slot: SharedArrayBuffer;
  result: SharedArrayBuffer;
}

/** The head of a gradient task: the request without its arrays, plus how to find them in the slot. */
export interface GradientHead extends Omit<GradientRequest, 'inputs' | 'targets'> {
  inputKind: ArrayKind;
  inputLength: number;
  targetKind: ArrayKind;
  targetLength: number;
}

export interface GradientResponse {
  shardIndex: number;
  paramsVersion: number;
  lossSum: number;
  /**
   * A view of the pool's result slot for this shard index: read (or copy) it before the next task of
   * the same shard index starts. Empty when `error` is set or the step is non-finite.
   */
  grad: Float32Array;
  /** An op produced NaN/Inf: the step is skipped, not retried. */
  nonFinite: boolean;
  error: SerializedError | null;
}

/** A gradient reply, all head: the gradient itself was written into the task's result slot. */
export interface GradientReplyHead extends Omit<GradientResponse, 'grad'> {
  /** Values written into the result slot (0 on error or non-finite). */
  gradLength: number;
}

export interface ProbeRequest {
  kind: 'probe';
  estimator: CurvatureEstimator;
  step: number;
  seed: number;
  probes: number;
  attempt: number;
  /** Private copy of θ_step: probes run while later updates change the shared buffer. */
  params: Float32Array;
  inputs: Float32Array | Int32Array;
  inputShape: number[];
  targets: Int32Array | Float32Array;
  targetShape: number[];
}

export interface ProbeResponse {
  step: number;
  /** The diagonal estimate; empty for 'hvp-pair', which answers with `v` and `hv`. */
  diag: Float32Array;
  /** 'hvp-pair' only: the probe direction and H·v (both transferred beside the head). */
  v?: Float32Array;
  hv?: Float32Array;
  /** Hutchinson only: loss and gradient at the same θ and batch, free with the HVP. */
  loss?: number;
  grad?: Float32Array;
  nonFinite: boolean;
  error: SerializedError | null;
  /** Which backend computed `diag`; absent when the worker runs with gpu 'cpu'. */
  backend?: GpuBackendKind;
  /**
   * Lines the worker logged while computing this estimate: which backend it selected and why (with
   * its first estimate), and why it gave up the GPU (with the first estimate computed after that).
   */
  notes?: string[];
  /**
   * Wall time in seconds the worker spent computing this estimate (not the time the task queued):
   * metadata for metrics only, never part of the arithmetic. Absent when the estimate failed.
   */
  seconds?: number;
}

/** The head of a probe task: the request without its arrays, which are transferred beside it. */
export type ProbeHead = Omit<ProbeRequest, 'params' | 'inputs' | 'targets'>;

export interface ProbeWire {
  head: Uint8Array;
  params: Float32Array;
  inputs: Float32Array | Int32Array;
  targets: Int32Array | Float32Array;
}

/** The head of a probe reply: the response without its arrays (`grad`, `v`, `hv` ride beside it when present). */
export type ProbeReplyHead = Omit<ProbeResponse, 'diag' | 'grad' | 'v' | 'hv'>;

export interface ProbeReply {
  head: Uint8Array;
  diag: Float32Array;
  grad?: Float32Array;
  v?: Float32Array;
  hv?: Float32Array;
}

export type WorkerRequest = GradientRequest | ProbeRequest;

// Plain msgpack maps (no record extension): a record definition would be remembered by the encoder of
// one thread and be unknown to the decoder of another.
const packr = new Packr({ useRecords: false });

/**
 * msgpack writes −0 as the integer 0; a loss of exactly −0 must come back as −0 or the pipeline's sums
 * would differ in sign from the synchronous loop's, so the head lists its −0 fields under this key.
 */
const NEGATIVE_ZERO = '-0';

/**
 * Encodes a message head: a flat object of numbers, strings, booleans, plain arrays and nested plain
 * objects. Typed arrays are refused: they belong beside the head, transferred or in shared memory,
 * never copied through the encoder.
 */
export function encodeHead(head: object): Uint8Array {
  const negZero: string[] = [];
  for (const [k, v] of Object.entries(head)) {
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof SharedArrayBuffer)
      throw new TypeError(`encodeHead: field ${k} is a binary array; send it beside the head`);
    if (k === NEGATIVE_ZERO) throw new TypeError(`encodeHead: field name ${k} is reserved`);
    if (Object.is(v, -0)) negZero.push(k);
  }
  const value = negZero.length > 0 ? { ...head, [NEGATIVE_ZERO]: negZero } : head;
  // pack() returns a view into msgpackr's reused 8 KiB buffer: copy it, or the next pack overwrites it
  // and postMessage would clone the whole backing buffer.
  return new Uint8Array(packr.pack(value));
}

export function decodeHead<T>(bytes: Uint8Array): T {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0)
    throw new TypeError('decodeHead: expected a non-empty Uint8Array message head');
  const head = packr.unpack(bytes) as Record<string, unknown>;
  if (head === null || typeof head !== 'object' || Array.isArray(head))
    throw new TypeError('decodeHead: the message head is not an object');
  const negZero = head[NEGATIVE_ZERO];
  if (Array.isArray(negZero)) {
    delete head[NEGATIVE_ZERO];
    for (const k of negZero) head[k as string] = -0;
  }
  return head as T;
}

export function arrayKind(a: Float32Array | Int32Array): ArrayKind {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Int32Array) return 'i32';
  throw new TypeError(
    `batch arrays must be Float32Array or Int32Array, got ${(a as object)?.constructor?.name ?? typeof a}`,
  );
}

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
