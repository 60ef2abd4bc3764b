/**
 * The messages of the remote protocol (each a `frame`: msgpack head + raw bytes).
 *
 * - hello (worker → coordinators, every second): the worker's id and threads; the roster of live workers.
 * - task (coordinator → one worker it picked from the roster, request-reply): a head naming the model,
 *   θ's version and length and the work, with the shard's (or the probe batch's) inputs then targets as
 *   raw bytes; the worker answers at once with an ack naming itself, then computes.
 * - θ chunk (worker → coordinator, request-reply): θ of one version, fetched once per version and cached
 *   by the worker, in chunks below the broker's max_payload.
 * - result chunks (worker → the attempt's result subject): chunk 0 carries the reply head, every chunk
 *   a slice of the result arrays' bytes (concatenated in the order the head lists them).
 */
import type { ModelSpec } from '../../nn/model.js';
import type { CurvatureEstimator } from '../../step/curvature-schedule.js';
import type { ArrayKind, SerializedError } from '../protocol.js';

interface TaskBase {
  taskId: string;
  /**
   * The coordinator's session (one per pool): θ versions restart at 0 with every pipeline, so a worker
   * keys its θ cache by session and version, and fetches from that session's θ subject.
   */
  session: string;
  /** Where the result chunks go. */
  reply: string;
  model: ModelSpec;
  /** θ's version (the step it belongs to) and length: the worker fetches it once per version. */
  version: number;
  thetaLength: number;
  step: number;
  attempt: number;
  inputShape: number[];
  targetShape: number[];
  inputKind: ArrayKind;
  inputLength: number;
  targetKind: ArrayKind;
  targetLength: number;
}

export interface GradientTaskHead extends TaskBase {
  kind: 'gradient';
  shardIndex: number;
  totalPredictions: number;
}

export interface ProbeTaskHead extends TaskBase {
  kind: 'probe';
  estimator: CurvatureEstimator;
  seed: number;
  probes: number;
}

export type TaskHead = GradientTaskHead | ProbeTaskHead;

export interface TaskAck {
  worker: string;
}

/** A worker's announcement (every second): its id and gradient threads. */
export interface Hello {
  worker: string;
  threads: number;
}

export interface ThetaRequest {
  version: number;
  chunk: number;
  worker: string;
}

export interface ThetaReply {
  version: number;
  /** Chunks of this version in all, and θ's length in values. */
  chunks: number;
  length: number;
  error: SerializedError | null;
}

/** The arrays a result carries, in body order. */
export type ResultArray = 'grad' | 'diag' | 'v' | 'hv';

export interface ResultHead {
  taskId: string;
  worker: string;
  /** The θ version the worker computed on: the coordinator refuses any other. */
  version: number;
  loss?: number;
  nonFinite: boolean;
  error: SerializedError | null;
  arrays: { name: ResultArray; length: number }[];
  backend?: string;
  notes?: string[];
  seconds?: number;
}

/** A result chunk's head; chunk 0's carries the `ResultHead` fields beside these. */
export interface ResultChunkHead {
  taskId: string;
  /** Chunk index and count, and where the chunk's bytes start in the result's bytes. */
  i: number;
  n: number;
  offset: number;
}
