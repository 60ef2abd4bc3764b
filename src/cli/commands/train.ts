/** `hessflow train`: trains the model of a config, evaluates on held-out data, writes a run directory. */
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { RUN_FILES, makeRunDir, writeJson, shownPath } from '../../report/run-dir.js';
import { TrainingRecord } from '../../report/training-record.js';
import { checkpointEvery } from '../../streams/checkpoint-every.js';
import type { DiagnosedMetrics, StepDiagnostics } from '../../streams/diagnose-every.js';
import { writeMetrics } from '../../streams/write-metrics.js';
import { type RunConfig, defaultConfigPath, readConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { generateText } from '../generate.js';
import { positiveInt } from '../parse.js';
import { TrainingProgress, stopOnSigint } from '../progress.js';
import { learningRateAt, modelSpecOf } from '../run-setup.js';
import { runTraining } from '../run-training.js';
import { loadNatsModule } from '../nats-modules.js';
import type { StreamTrainSummary } from './train-stream.js';

export interface TrainOptions {
  config?: string;
  steps?: number;
  out?: string;
  json?: boolean;
  progress: boolean;
  /** Gradient worker threads (default: the available cores). */
  workers?: number;
  /** Gradient shards per batch (default 4); results depend on it, never on `workers`. */
  shards?: number;
  /** 'pipeline' (default, worker threads) or 'trainer' (the synchronous reference loop). */
  engine?: 'pipeline' | 'trainer';
  /** Train from a JetStream stream, nats://host:port/STREAM (src/cli/commands/train-stream.ts). */
  source?: string;
  consumer?: string;
  tokenFile?: string;
  tokenEnv?: string;
  creds?: string;
  checkpointEvery?: number;
}

export interface TrainSummary {
  name: string;
  runDir: string;
  steps: number;
  skipped: number;
  parameters: number;
  /** The train loss after the last step: EMA 0.9 of the minibatch losses (src/report/loss-ema.ts). */
  finalTrainLoss: number;
  heldOut: { loss: number; accuracy: number; predictions: number };
  seconds: number;
  samplesPerSecond: number;
  /** Stopped by Ctrl-C before the step budget (the files hold the state reached). */
  interrupted?: boolean;
  /** The last Hessian diagnostics of the run (config `diagnostics`). */
  diagnostics?: StepDiagnostics;
  files: Record<string, string>;
  generated?: string;
}

/** The run config of `train`'s options: --config (or CONFIG=…), with --steps (or STEPS=…) applied. */
function trainConfig(o: TrainOptions): RunConfig {
  // CONFIG=… and STEPS=… (as `STEPS=300 npm start`) stand in for the flags when those are not given.
  const config: RunConfig = readConfig(o.config ?? (process.env.CONFIG || defaultConfigPath()));
  let steps = o.steps;
  if (steps === undefined && process.env.STEPS) {
    try {
      steps = positiveInt(process.env.STEPS);
    } catch {
      throw new UsageError(`STEPS=${process.env.STEPS}: must be a positive integer`);
    }
  }
  if (steps !== undefined) config.steps = steps;
  return config;
}

/** `hessflow train --source nats://…`: the config's model trained from a JetStream stream. */
export async function trainFromSourceCommand(
  o: TrainOptions & { source: string },
): Promise<StreamTrainSummary> {
  checkEngineOptions(o);
  const config = trainConfig(o);
  const { streamTrainCommand } = await loadNatsModule(() => import('./train-stream.js'), 'train --source');
  return streamTrainCommand(config, o);
}

/** The Trainer runs in this thread: the pipeline's worker and shard counts mean nothing to it. */
function checkEngineOptions(o: TrainOptions): void {
  if (o.engine === 'trainer' && (o.workers !== undefined || o.shards !== undefined))
    throw new UsageError('--workers and --shards are for the pipeline engine, not --engine trainer');
}

export async function trainCommand(o: TrainOptions): Promise<TrainSummary> {
  checkEngineOptions(o);
  if ((o.consumer ?? o.tokenFile ?? o.tokenEnv ?? o.creds ?? o.checkpointEvery) !== undefined)
    throw new UsageError(
      '--consumer, --token-file, --token-env, --creds and --checkpoint-every go with --source nats://…',
    );
  const config = trainConfig(o);
  const name = config.name ?? 'run';
  const dir = makeRunDir(o.out, name);
  await writeJson(join(dir, RUN_FILES.config), config);

  const block = config.model.kind === 'gpt' ? config.model.blockSize : 1;
  const progress = new TrainingProgress({
    label: name,
    total: config.steps,
    samplesPerStep: config.batchSize,
    bar: o.progress && !o.json && process.stderr.isTTY === true,
    quiet: o.json,
    diagnostics: config.diagnostics !== undefined,
  });
  const record = new TrainingRecord((step) => learningRateAt(config, step), join(dir, RUN_FILES.metricsCsv));
  let diagnostics: StepDiagnostics | undefined;
  // Ctrl-C once: finish the step in progress, then write the checkpoint and summary of what was done.
  const interrupt = stopOnSigint(() => {
    progress.stop();
    process.stderr.write('\ninterrupted: finishing the step in progress (Ctrl-C again to quit now)\n');
  });
  let result;
  try {
    result = await runTraining(config, {
      signal: interrupt.signal,
      ...(o.engine !== undefined ? { engine: o.engine } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ...(o.shards !== undefined ? { shards: o.shards } : {}),
      sinks: (run) => (steps$) =>
        steps$.pipe(
          writeMetrics(join(dir, RUN_FILES.metrics)),
          checkpointEvery({
            dir,
            every: config.evalEvery,
            state: run.state,
            layout: run.model.layout.toJSON(),
            meta: (m) => ({
              config,
              model: modelSpecOf(config, run.data),
              ...(m?.eval ? { finalEval: m.eval } : {}),
            }),
          }),
        ),
      onStep(m: DiagnosedMetrics) {
        record.add(m);
        if (m.diagnostics) diagnostics = m.diagnostics;
        progress.update(m);
      },
    });
  } finally {
    interrupt.dispose();
    progress.stop();
    record.close();
  }
  const checkpoint = join(dir, RUN_FILES.checkpoint);
  const weights = join(dir, RUN_FILES.weights);
  const isLm = config.model.kind === 'gpt';
  record.addFinalEval(result.step - 1, result.finalEval);
  const plot = await record.writeFigure(join(dir, 'training'), {
    steps: result.step,
    languageModel: isLm,
    title: `hessflow train: ${name} (${config.optimizer.name})`,
  });

  let generated: string | undefined;
  if (isLm && result.data.corpus && config.model.kind === 'gpt') {
    const g = config.generate ?? {};
    generated = generateText(result.model, result.params, result.data.corpus, block, {
      prompt: g.prompt ?? 'Call me Ishmael. ',
      tokens: g.tokens ?? 240,
      temperature: g.temperature ?? 0.8,
      seed: config.seed,
    });
    const lines = generated.split('\n').slice(0, g.lines ?? 6);
    generated = lines.join('\n');
  }

  const seconds = result.elapsedMs / 1000;
  const summary: TrainSummary = {
    name,
    runDir: dir,
    steps: result.step,
    skipped: result.skipped,
    parameters: result.model.layout.size,
    finalTrainLoss: record.trainLoss,
    heldOut: result.finalEval,
    seconds,
    samplesPerSecond: (result.step * config.batchSize) / Math.max(seconds, 1e-9),
    ...(result.interrupted ? { interrupted: true } : {}),
    ...(diagnostics ? { diagnostics } : {}),
    files: {
      config: join(dir, RUN_FILES.config),
      metrics: join(dir, RUN_FILES.metrics),
      metricsCsv: join(dir, RUN_FILES.metricsCsv),
      checkpoint,
      weights,
      plotSvg: plot.svg,
      plotPng: plot.png,
    },
    ...(generated !== undefined ? { generated } : {}),
  };
  await writeJson(join(dir, 'summary.json'), summary);
  if (o.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const rel = shownPath(dir);
    const what = isLm ? 'next-character accuracy' : 'accuracy';
    const lines = [
      `hessflow train: ${name} — ${config.model.kind} (${summary.parameters.toLocaleString('en')} parameters), ${config.optimizer.name}, ${summary.steps}${summary.interrupted ? ` of ${config.steps}` : ''} steps${summary.interrupted ? ' (interrupted)' : ''}${summary.skipped ? ` (${summary.skipped} skipped)` : ''}`,
      `  final train loss  ${summary.finalTrainLoss.toFixed(4)}  (EMA 0.9 of the minibatch loss)`,
      `  held-out loss     ${summary.heldOut.loss.toFixed(4)}   ${what} ${(100 * summary.heldOut.accuracy).toFixed(2)}% (${summary.heldOut.predictions} predictions)`,
      `  time              ${seconds.toFixed(1)} s (${summary.samplesPerSecond.toFixed(0)} samples/s)`,
      ...(diagnostics
        ? [
            `  Hessian, step ${diagnostics.step + 1}  ${[
              ...(diagnostics.lambdaMax === undefined
                ? []
                : [`λmax ${diagnostics.lambdaMax.toPrecision(4)}`]),
              ...(diagnostics.trace === undefined ? [] : [`trace ${diagnostics.trace.toPrecision(4)}`]),
            ].join('   ')}`,
          ]
        : []),
      `  run directory     ${rel}/  (config.json, metrics.ndjson, metrics.csv, checkpoint.hfckpt, weights.safetensors, training.svg, training.png)`,
    ];
    if (generated !== undefined)
      lines.push('', 'Generated text:', ...generated.split('\n').map((l) => `  ${l}`));
    lines.push('', `Next: hessflow hessian --checkpoint ${rel}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return summary;
}

export function trainCommandSpec(): Command {
  return new Command('train')
    .description('train the model of a config, evaluate on held-out data and write a run directory')
    .option('-c, --config <file>', 'JSON run config (default: config/quickstart.json, MNIST MLP with SOAP)')
    .option('-s, --steps <n>', 'override the config step budget', positiveInt)
    .option('-o, --out <dir>', 'run directory (default: runs/<timestamp>-<name>)')
    .option('--json', 'print the summary as one JSON object on stdout (no progress output)')
    .option('--no-progress', 'no progress bar (also off when stderr is not a terminal)')
    .option('-w, --workers <n>', 'gradient worker threads (default: the available cores)', positiveInt)
    .option(
      '--shards <n>',
      'gradient shards per batch (default 4); the result depends on it, never on --workers',
      positiveInt,
    )
    .addOption(
      new Option(
        '--engine <name>',
        'pipeline (default: worker threads) or trainer (the synchronous reference loop, one thread)',
      ).choices(['pipeline', 'trainer']),
    )
    .option(
      '--source <url>',
      'train from a NATS JetStream stream, nats://host:port/STREAM[?consumer=NAME&subject=SUBJ]: exactly once across crashes; --out DIR again resumes',
    )
    .option('--consumer <name>', 'the durable consumer (default hessflow-<config name>)')
    .option('--token-file <file>', 'NATS token read from this file (never logged)')
    .option('--token-env <var>', 'NATS token read from this environment variable (never logged)')
    .option('--creds <file>', 'NATS credentials file')
    .option(
      '--checkpoint-every <n>',
      'with --source: checkpoint (and acknowledge) every n steps (default 100)',
      positiveInt,
    )
    .addHelpText(
      'after',
      '\nEnvironment: CONFIG=<file> and STEPS=<n> stand in for --config and --steps.\n' +
        'From a stream: nats-server -js -sd /tmp/nats & hessflow publish --to nats://127.0.0.1:4222/TRAIN;\n' +
        '  hessflow train --source nats://127.0.0.1:4222/TRAIN --out runs/from-nats',
    )
    .action(async (opts: TrainOptions) => {
      const source = opts.source;
      const summary =
        source === undefined ? await trainCommand(opts) : await trainFromSourceCommand({ ...opts, source });
      // Everything is written and the worker threads are closed; report the interruption as Ctrl-C does.
      if (summary.interrupted) process.exit(130);
    });
}
