/**
 * Training from a NATS JetStream stream, exactly once across crashes: `runStreamTraining(config, o)`
 * trains the config's model on the stream's batches through the streaming pipeline (deterministic mode)
 * and keeps one checkpoint in the run directory, `checkpoint.hfckpt`, holding θ, the optimizer state, the
 * step, the curvature estimates in flight, and `meta.jetstream.lastSeq`: the stream sequence of the last
 * batch applied. The checkpoint is written every `checkpointEvery` steps and at the end, atomically;
 * once it is durable the source acknowledges the messages it covers. Started again on the same directory,
 * the run resumes from the checkpoint and the source from the message after `lastSeq`, so every batch of
 * the stream is applied exactly once and θ equals an uninterrupted run's bit for bit.
 *
 * The run ends after `config.steps` steps in all (a stream has no end), or when `signal` aborts (the
 * final checkpoint is still written).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint-file.js';
import { buildModel } from '../nn/models/registry.js';
import type { PipelineCheckpoint } from '../pipeline/checkpoint.js';
import { createPipeline } from '../pipeline/create-pipeline.js';
import {
  type FromJetStreamOptions,
  type JetStreamSourceStatus,
  fromJetStream,
} from '../streams/from-jetstream.js';
import { setFiniteChecks } from '../tensor/index.js';
import { evaluate } from '../train/evaluate.js';
import { type EvalResult } from '../step/records.js';
import type { StepMetrics } from '../step/records.js';
import type { RunConfig } from './config.js';
import { buildOptimizer, modelSpecOf, setupData } from './run-setup.js';

export const STREAM_CHECKPOINT = 'checkpoint.hfckpt';

export interface StreamTrainingOptions {
  /** Where to connect and what to consume (batchSpec, startAfter and limit are filled in). */
  source: Omit<FromJetStreamOptions, 'batchSpec' | 'startAfter' | 'limit'>;
  /** The run directory (must exist); its checkpoint is resumed from when present. */
  dir: string;
  /** Write the checkpoint after every k-th step (default 100) and at the end. */
  checkpointEvery?: number;
  workers?: number;
  shards?: number;
  /** fsync checkpoints (default true). */
  fsync?: boolean;
  signal?: AbortSignal;
  onStep?: (m: StepMetrics, seq: number) => void;
  /** Awaited after θ is captured and before the checkpoint is written. */
  onCheckpointStart?: (step: number, seq: number) => void | Promise<void>;
  /** After a checkpoint is durable (and its messages acknowledged). */
  onCheckpoint?: (c: { step: number; seq: number; path: string }) => void;
  /** Where the run resumed: its step and last applied sequence (0, 0 for a fresh run). */
  onStart?: (s: { step: number; lastSeq: number }) => void;
  /** The source, for status reporting while the run goes on. */
  onSource?: (status: () => JetStreamSourceStatus) => void;
}

export interface StreamTrainingResult {
  params: Float32Array;
  step: number;
  /** Stream sequence of the last applied batch. */
  lastSeq: number;
  resumedFrom: { step: number; lastSeq: number };
  source: JetStreamSourceStatus;
  /** Held-out loss and accuracy of the final θ (the config's evaluation data). */
  finalEval: EvalResult;
  interrupted?: boolean;
}

interface StreamMeta {
  jetstream: { stream: string; consumer: string; lastSeq: number };
  pending: { launchedAt: number; diag: Float32Array }[];
  skipped: number;
}

export async function runStreamTraining(
  config: RunConfig,
  o: StreamTrainingOptions,
): Promise<StreamTrainingResult> {
  const every = o.checkpointEvery ?? 100;
  if (!Number.isInteger(every) || every < 1)
    throw new RangeError(`runStreamTraining: checkpointEvery must be an integer >= 1, got ${every}`);
  setFiniteChecks(false);
  const data = setupData(config);
  const spec = modelSpecOf(config, data);
  const model = buildModel(spec);
  const optimizer = buildOptimizer(config, model);
  const path = join(o.dir, STREAM_CHECKPOINT);

  let resume: PipelineCheckpoint<unknown> | undefined;
  let lastSeq = 0;
  if (existsSync(path)) {
    const cp = await loadCheckpoint(path);
    const meta = cp.meta as Partial<StreamMeta>;
    if (!meta.jetstream || typeof meta.jetstream.lastSeq !== 'number')
      throw new Error(`${path} is not a stream-training checkpoint (no meta.jetstream.lastSeq)`);
    if (meta.jetstream.stream !== o.source.stream)
      throw new Error(
        `${path} was trained from stream ${meta.jetstream.stream}, not ${o.source.stream}: use another run directory`,
      );
    lastSeq = meta.jetstream.lastSeq;
    resume = {
      params: cp.params,
      optState: cp.optimizerState,
      step: cp.step,
      pending: meta.pending ?? [],
      skipped: meta.skipped ?? 0,
    };
  }
  const firstStep = resume?.step ?? 0;
  const resumedFrom = { step: firstStep, lastSeq };
  o.onStart?.(resumedFrom);

  const source = fromJetStream({
    ...o.source,
    batchSpec: data.batchSpec,
    startAfter: lastSeq,
    limit: Math.max(0, config.steps - firstStep),
  });
  o.onSource?.(() => source.status());
  const pipeline = createPipeline<unknown>({
    model: spec,
    optimizer,
    seed: config.seed,
    batchSpec: data.batchSpec,
    ...(config.curvature ? { curvature: config.curvature } : {}),
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
    ...(o.shards !== undefined ? { shards: o.shards } : {}),
    ...(resume ? { resumeFrom: resume } : {}),
  });

  let writes: Promise<void> = Promise.resolve();
  let lastWritten = firstStep;
  let lastApplied = lastSeq;
  let failed: unknown = null;
  const checkpoint = (step: number, seq: number) => {
    // The state now (no step is half-applied); only in-flight estimates are awaited.
    const captured = pipeline.checkpoint();
    lastWritten = step;
    writes = writes.then(async () => {
      const cp = await captured;
      await o.onCheckpointStart?.(cp.step, seq);
      const meta: StreamMeta & Record<string, unknown> = {
        jetstream: { stream: o.source.stream, consumer: o.source.consumer, lastSeq: seq },
        pending: cp.pending.map((e) => ({ launchedAt: e.launchedAt, diag: e.diag })),
        skipped: cp.skipped,
        config,
        model: spec,
      };
      await saveCheckpoint(
        path,
        {
          params: cp.params,
          layout: model.layout
            .toJSON()
            .map((e) => ({ name: e.name, shape: [...e.shape], offset: e.offset, tags: [...e.tags] })),
          optimizerState: cp.optState,
          step: cp.step,
          meta,
        },
        { fsync: o.fsync ?? true },
      );
      source.durable(seq);
      o.onCheckpoint?.({ step: cp.step, seq, path });
    });
    writes.catch((e: unknown) => {
      failed ??= e;
      pipeline.stop();
    });
  };

  let interrupted = false;
  let s: { params: Float32Array; step: number } = { params: new Float32Array(0), step: firstStep };
  const stop = () => {
    interrupted = true;
    pipeline.stop();
  };
  o.signal?.addEventListener('abort', stop, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      // The source validated every batch with the same spec: a refusal here would break step ↔ sequence.
      const refused = pipeline.errors$.subscribe((e) => {
        sub.unsubscribe();
        reject(new Error(`batch of step ${e.step} refused by the pipeline (${e.reason}): ${e.message}`));
      });
      const sub = pipeline.run(source).subscribe({
        next: (m) => {
          const seq = source.sequenceAt(m.step - firstStep);
          lastApplied = seq;
          o.onStep?.(m, seq);
          if ((m.step + 1) % every === 0) checkpoint(m.step + 1, seq);
        },
        error: (e) => {
          refused.unsubscribe();
          reject(e as Error);
        },
        complete: () => {
          refused.unsubscribe();
          resolve();
        },
      });
      if (o.signal?.aborted) stop();
    });
    s = pipeline.snapshot();
    if (s.step !== lastWritten) checkpoint(s.step, lastApplied);
    await writes;
    if (failed) throw failed;
  } finally {
    o.signal?.removeEventListener('abort', stop);
    await pipeline.close();
    await source.close();
  }
  return {
    params: s.params,
    step: s.step,
    lastSeq: lastApplied,
    resumedFrom,
    source: source.status(),
    finalEval: evaluate(model, s.params, data.evalBatches),
    ...(interrupted && s.step < config.steps ? { interrupted: true } : {}),
  };
}
