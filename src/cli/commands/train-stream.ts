/**
 * `hessflow train --source nats://host:port/STREAM`: trains the config's model on a JetStream stream's
 * batches, exactly once across crashes (src/cli/run-stream-training.ts). The run directory keeps the
 * checkpoint; running the same command again with the same `--out` resumes from it and from the message
 * after its last applied sequence.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RUN_FILES, makeRunDir, shownPath, writeJson } from '../../report/run-dir.js';
import type { RunConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { parseNatsSourceUrl } from '../nats-source-url.js';
import { TrainingProgress, stopOnSigint } from '../progress.js';
import { STREAM_CHECKPOINT, type StreamEngine, runStreamTraining } from '../run-stream-training.js';

export interface StreamTrainOptions {
  source: string;
  consumer?: string;
  tokenFile?: string;
  tokenEnv?: string;
  creds?: string;
  checkpointEvery?: number;
  out?: string;
  json?: boolean;
  progress: boolean;
  engine?: StreamEngine;
  workers?: number;
  shards?: number;
}

export interface StreamTrainSummary {
  name: string;
  runDir: string;
  stream: string;
  consumer: string;
  engine: StreamEngine;
  steps: number;
  resumedFrom: { step: number; lastSeq: number };
  lastSeq: number;
  heldOut: { loss: number; accuracy: number; predictions: number };
  seconds: number;
  deadLetters: number;
  redeliveries: number;
  interrupted?: boolean;
  files: { checkpoint: string; metrics: string };
}

export async function streamTrainCommand(
  config: RunConfig,
  o: StreamTrainOptions,
): Promise<StreamTrainSummary> {
  const url = parseNatsSourceUrl(o.source);
  const name = config.name ?? 'run';
  const consumer = url.consumer ?? o.consumer ?? `hessflow-${name}`;
  if (!/^[A-Za-z0-9_-]+$/.test(consumer))
    throw new UsageError(
      `--consumer: ${JSON.stringify(consumer)} is not a consumer name (letters, digits, _ and -)`,
    );
  const dir = makeRunDir(o.out, name);
  await writeJson(join(dir, RUN_FILES.config), config);
  const progress = new TrainingProgress({
    label: `${name} ← ${url.stream}`,
    total: config.steps,
    samplesPerStep: config.batchSize,
    bar: o.progress && !o.json && process.stderr.isTTY === true,
    quiet: o.json,
  });
  const interrupt = stopOnSigint(() => {
    progress.stop();
    process.stderr.write('\ninterrupted: finishing the step in progress and writing the checkpoint\n');
  });
  // Appended: a resumed run adds its steps (a step re-done after a crash appears again, with its sequence).
  const metricsFd = openSync(join(dir, RUN_FILES.metrics), 'a');
  const started = performance.now();
  let result;
  try {
    result = await runStreamTraining(config, {
      source: {
        servers: url.servers,
        stream: url.stream,
        consumer,
        ...(url.subject ? { subject: url.subject } : {}),
        ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}),
        ...(o.tokenEnv ? { tokenEnv: o.tokenEnv } : {}),
        ...(o.creds ? { credsFile: o.creds } : {}),
        onEvent: (e) => {
          if (!o.json) process.stderr.write(`nats: ${e.event}${e.detail ? ` (${e.detail})` : ''}\n`);
        },
        onDeadLetter: (d) => {
          if (!o.json)
            process.stderr.write(`nats: message ${d.seq} dead-lettered (${d.reason}): ${d.message}\n`);
        },
      },
      dir,
      ...(o.checkpointEvery !== undefined ? { checkpointEvery: o.checkpointEvery } : {}),
      ...(o.engine !== undefined ? { engine: o.engine } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ...(o.shards !== undefined ? { shards: o.shards } : {}),
      signal: interrupt.signal,
      onStart: (s) => {
        if (s.step > 0 && !o.json)
          process.stderr.write(`resuming at step ${s.step}, after stream sequence ${s.lastSeq}\n`);
      },
      onStep: (m, seq) => {
        writeSync(metricsFd, `${JSON.stringify({ ...m, seq })}\n`);
        progress.update(m);
      },
    });
  } finally {
    interrupt.dispose();
    progress.stop();
    closeSync(metricsFd);
  }
  const summary: StreamTrainSummary = {
    name,
    runDir: dir,
    stream: url.stream,
    consumer,
    engine: o.engine ?? 'pipeline',
    steps: result.step,
    resumedFrom: result.resumedFrom,
    lastSeq: result.lastSeq,
    heldOut: result.finalEval,
    seconds: (performance.now() - started) / 1000,
    deadLetters: result.source.deadLetters,
    redeliveries: result.source.redeliveries,
    ...(result.interrupted ? { interrupted: true } : {}),
    files: { checkpoint: join(dir, STREAM_CHECKPOINT), metrics: join(dir, RUN_FILES.metrics) },
  };
  await writeJson(join(dir, 'summary.json'), summary);
  if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else
    process.stdout.write(
      [
        `hessflow train: ${name} from JetStream ${url.stream} (consumer ${consumer}), ${summary.steps}${summary.interrupted ? ` of ${config.steps}` : ''} steps${summary.resumedFrom.step > 0 ? ` (resumed at ${summary.resumedFrom.step})` : ''}`,
        `  last applied sequence  ${summary.lastSeq}`,
        `  held-out loss          ${summary.heldOut.loss.toFixed(4)}   accuracy ${(100 * summary.heldOut.accuracy).toFixed(2)}%`,
        `  dead letters           ${summary.deadLetters}   redeliveries ${summary.redeliveries}`,
        `  time                   ${summary.seconds.toFixed(1)} s`,
        `  run directory          ${shownPath(dir)}/  (run it again with --out ${shownPath(dir)} to resume)`,
      ].join('\n') + '\n',
    );
  return summary;
}
