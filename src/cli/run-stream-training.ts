/**
 * Training from a NATS JetStream stream, exactly once across crashes: `runStreamTraining(config, o)`
 * trains the config's model on the stream's batches through the streaming pipeline (deterministic mode),
 * or with `engine: 'trainer'` through the synchronous Trainer (src/cli/stream-trainer.ts), and keeps one
 * checkpoint in the run directory, `checkpoint.hfckpt`, holding θ, the optimizer state, the
 * step, the curvature estimates in flight, and `meta.jetstream.lastSeq`: the stream sequence of the last
 * batch applied. The checkpoint is written every `checkpointEvery` steps and at the end, atomically;
 * once it is durable the source acknowledges the messages it covers. Started again on the same directory,
 * the run resumes from the checkpoint and the source from the message after `lastSeq`, so every batch of
 * the stream is applied exactly once and θ equals an uninterrupted run's bit for bit.
 *
 * The run ends after `config.steps` steps in all (a stream has no end), or when `signal` aborts (the
 * final checkpoint is still written). The checkpoint records the engine: the two compute the gradient
 * differently (the pipeline sums shards), so a run resumes only with the engine it was started with.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint-file.js';
import { buildModel } from '../nn/models/registry.js';
import type { PipelineCheckpoint } from '../pipeline/checkpoint.js';
import { createPipeline } from '../pipeline/create-pipeline.js';
import { type SourceTrainer, sourceTrainer } from './stream-trainer.js';
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
  /** 'pipeline' (default): the streaming pipeline; 'trainer': the synchronous Trainer (no workers). */
  engine?: StreamEngine;
  /** Pipeline only. */
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

export type StreamEngine = 'pipeline' | 'trainer';

interface StreamMeta {
  jetstream: { stream: string; consumer: string; lastSeq: number };
  /** Absent in checkpoints from before the Trainer path: those are the pipeline's. */
  engine?: StreamEngine;
  pending: { launchedAt: number; diag: Float32Array; pair?: { v: Float32Array; hv: Float32Array } }[];
  skipped: number;
}

export async function runStreamTraining(
  config: RunConfig,
  o: StreamTrainingOptions,
): Promise<StreamTrainingResult> {
  const every = o.checkpointEvery ?? 100;
  if (!Number.isInteger(every) || every < 1)
    throw new RangeError(`runStreamTraining: checkpointEvery must be an integer >= 1, got ${every}`);
  const engine = o.engine ?? 'pipeline';
  if (engine !== 'pipeline' && engine !== 'trainer')
    throw new RangeError(
      `runStreamTraining: engine must be "pipeline" or "trainer", got ${JSON.stringify(engine)}`,
    );
  if (engine === 'trainer' && (o.workers !== undefined || o.shards !== undefined))
    throw new RangeError('runStreamTraining: workers and shards are for the pipeline engine, not "trainer"');
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
    const written = meta.engine ?? 'pipeline';
    if (written !== engine)
      throw new Error(
        `${path} was trained with the ${written} engine, not ${engine}: resume it with that engine ` +
          '(the two compute the gradient differently), or use another run directory',
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
  // Both engines as the Trainer's driver's shape: run, stop, snapshot, checkpoint, errors$, close.
  const pipeline: SourceTrainer<unknown> =
    engine === 'trainer'
      ? sourceTrainer<unknown>({
          model,
          optimizer,
          batchSpec: data.batchSpec,
          steps: config.steps,
          seed: config.seed,
          ...(config.curvature ? { curvature: config.curvature } : {}),
          ...(resume ? { resumeFrom: resume } : {}),
        })
      : createPipeline<unknown>({
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
        engine,
        pending: cp.pending.map((e) => ({
          launchedAt: e.launchedAt,
          diag: e.diag,
          ...(e.pair ? { pair: e.pair } : {}),
        })),
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
