/** `hessflow train`: trains the model of a config, evaluates on held-out data, writes a run directory. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { RUN_FILES, makeRunDir, writeJson, shownPath, writeModelFiles } from '../../report/run-dir.js';
import { TrainingRecord } from '../../report/training-record.js';
import { buildModel } from '../../nn/models/registry.js';
import type { StepMetrics } from '../../train/train.js';
import { keepBest } from '../keep-best.js';
import {
  type BestMeta,
  RUN_EXTRA_FILES,
  clearRunDir,
  isRunDir,
  readRun,
  writeDataFiles,
} from '../run-files.js';
import { checkpointEvery } from '../../streams/checkpoint-every.js';
import type { DiagnosedMetrics, StepDiagnostics } from '../../streams/diagnose-every.js';
import { writeMetrics } from '../../streams/write-metrics.js';
import { type RunConfig, defaultConfigPath, readConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { generateText } from '../generate.js';
import { positiveInt } from '../parse.js';
import { TrainingProgress, stopOnSigint } from '../progress.js';
import { type RunData, learningRateAt, modelSpecOf, setupData } from '../run-setup.js';
import { type ResumeState, runTraining } from '../run-training.js';
import { loadNatsModule } from '../nats-modules.js';
import { describeKernels } from '../../kernels/index.js';
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
  /** Continue the run in this directory from its checkpoint. */
  resume?: string;
  /** Let --out replace an existing run. */
  force?: boolean;
}

export interface TrainSummary {
  name: string;
  runDir: string;
  steps: number;
  skipped: number;
  parameters: number;
  /** The kernels the steps ran on (src/kernels/describe.ts): the mode, BLAS or not, float32 kernels. */
  kernels: string;
  /** The train loss after the last step: EMA 0.9 of the minibatch losses (src/report/loss-ema.ts). */
  finalTrainLoss: number;
  heldOut: { loss: number; accuracy: number; predictions: number };
  seconds: number;
  samplesPerSecond: number;
  /** Stopped by Ctrl-C before the step budget (the files hold the state reached). */
  interrupted?: boolean;
  /** Stopped by early stopping (config earlyStopping) before the step budget. */
  stoppedEarly?: boolean;
  /** The step this run continued from (--resume). */
  resumedFrom?: number;
  /** The lowest held-out loss of the run and its step (kept in best/). */
  best?: { loss: number; step: number };
  /** Bad rows of the data file left out (data.badRows "skip"). */
  skippedRows?: number;
  /** The last Hessian diagnostics of the run (config `diagnostics`). */
  diagnostics?: StepDiagnostics;
  files: Record<string, string>;
  generated?: string;
}

/** The prompt sampled from after training: Moby Dick's first words, or a user's text's first line. */
function defaultPrompt(config: RunConfig, text: string): string {
  if (config.data?.name !== 'text') return 'Call me Ishmael. ';
  const line = text.slice(0, 64).split('\n')[0];
  return line.length > 0 ? line : text.slice(0, 1);
}

/**
 * The metrics lines of the steps before `step` (the checkpoint a run resumes from); the file is cut back
 * to them, since steps after the checkpoint (a run killed between checkpoints) are run again.
 */
function priorMetrics(path: string, step: number): DiagnosedMetrics[] {
  if (!existsSync(path)) return [];
  const kept: string[] = [];
  const out = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    // JSON has no NaN: a non-finite loss or norm was written as null.
    const m = JSON.parse(line, (_, v: unknown) => (v === null ? NaN : v)) as DiagnosedMetrics;
    if (m.step >= step) break;
    kept.push(line);
    out.push(m);
  }
  writeFileSync(path, kept.map((l) => `${l}\n`).join(''));
  return out;
}

/** The run config of `train`'s options: --config (or CONFIG=…), with --steps (or STEPS=…) applied. */
function trainConfig(o: TrainOptions): RunConfig {
  // CONFIG=… and STEPS=… (as `STEPS=300 npm start`) stand in for the flags when those are not given.
  const config: RunConfig = readConfig(o.config ?? (process.env.CONFIG || defaultConfigPath()));
  const steps = stepsOption(o);
  if (steps !== undefined) config.steps = steps;
  return config;
}

/** --steps, or STEPS=… in its place. */
function stepsOption(o: TrainOptions): number | undefined {
  let steps = o.steps;
  if (steps === undefined && process.env.STEPS) {
    try {
      steps = positiveInt(process.env.STEPS);
    } catch {
      throw new UsageError(`STEPS=${process.env.STEPS}: must be a positive integer`);
    }
  }
  return steps;
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

/** A fresh run's config and directory, or a resumed run's (--resume). */
interface Start {
  config: RunConfig;
  dir: string;
  data: RunData;
  resume?: ResumeState;
  best: BestMeta;
}

async function startFresh(o: TrainOptions): Promise<Start> {
  const config = trainConfig(o);
  // A schedule decaying over "the run's steps" is pinned to this run's, so a resumed, longer run keeps it.
  if (config.schedule && config.schedule.decaySteps === undefined)
    config.schedule.decaySteps = Math.max(config.steps, config.schedule.warmupSteps + 1);
  if (o.out !== undefined && isRunDir(resolve(o.out))) {
    if (!o.force)
      throw new UsageError(
        `--out ${o.out}: already holds a run; continue it with --resume ${o.out}, or replace it with --force`,
      );
    clearRunDir(resolve(o.out));
  }
  // The data is read (and a user's file checked) before anything is written.
  const data = setupData(config);
  const dir = makeRunDir(o.out, config.name ?? 'run');
  await writeJson(join(dir, RUN_FILES.config), config);
  await writeDataFiles(dir, data);
  return { config, dir, data, best: { bestLoss: null, bestStep: null, evalsSinceBest: 0 } };
}

async function startResumed(o: TrainOptions & { resume: string }): Promise<Start> {
  if (o.out !== undefined)
    throw new UsageError('--resume continues in the run directory itself; leave out --out');
  const run = await readRun(o.resume);
  let config = run.config;
  if (o.config !== undefined) {
    const other = readConfig(o.config);
    for (const key of RESUME_FIXED) {
      const [a, b] = [JSON.stringify(run.config[key] ?? null), JSON.stringify(other[key] ?? null)];
      // The run's saved config holds the resolved decay length; a config that leaves it out means the same.
      if (a !== b && !(key === 'schedule' && sameSchedule(run.config, other)))
        throw new UsageError(
          `--resume ${o.resume}: ${o.config} has a different ${key} (${b}) than the run (${a}); a run continues only with the same ${key}`,
        );
    }
    config = { ...other, name: run.config.name ?? other.name, schedule: run.config.schedule } as RunConfig;
    if (run.config.schedule === undefined) delete config.schedule;
  }
  const at = run.checkpoint.step;
  const steps = stepsOption(o) ?? config.steps;
  if (steps < at)
    throw new UsageError(
      `--resume ${o.resume}: the run is at step ${at}; --steps ${steps} would go back (give ${at} or more)`,
    );
  config = { ...config, steps };
  if (!run.resume && config.curvature)
    process.stderr.write(
      `hessflow: ${o.resume}: the checkpoint holds no record of curvature estimates in flight (the run did not end cleanly); continuing without them\n`,
    );
  const data = setupData(config, run.vocab ? { vocab: run.vocab } : {});
  const spec = modelSpecOf(config, data);
  if (JSON.stringify(buildModel(spec).spec) !== JSON.stringify(run.model.spec))
    throw new UsageError(
      `--resume ${o.resume}: the data now gives a different model (${JSON.stringify(spec)}) than the run's (${JSON.stringify(run.spec)})`,
    );
  await writeJson(join(run.dir, RUN_FILES.config), config);
  return {
    config,
    dir: run.dir,
    data,
    resume: {
      params: run.checkpoint.params,
      optState: run.checkpoint.optimizerState,
      step: at,
      pending: run.resume?.pending ?? [],
      skipped: run.resume?.skipped ?? 0,
    },
    best: run.best,
  };
}

/** Keys that decide the arithmetic of every step: a resumed run must keep them. */
const RESUME_FIXED = [
  'model',
  'optimizer',
  'curvature',
  'data',
  'batchSize',
  'seed',
  'schedule',
  'clip',
] as const;

function sameSchedule(run: RunConfig, other: RunConfig): boolean {
  if (!run.schedule || !other.schedule) return false;
  return (
    JSON.stringify({
      ...other.schedule,
      decaySteps: other.schedule.decaySteps ?? run.schedule.decaySteps,
    }) === JSON.stringify(run.schedule)
  );
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
  if (o.force && o.out === undefined) throw new UsageError('--force goes with --out DIR');
  const resumeDir = o.resume;
  const start =
    resumeDir === undefined ? await startFresh(o) : await startResumed({ ...o, resume: resumeDir });
  const { config, dir, best } = start;
  const name = config.name ?? 'run';
  const early = config.earlyStopping;

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
  // A resumed run's metrics.csv, plot and train-loss EMA include the steps before it.
  if (start.resume)
    for (const m of priorMetrics(join(dir, RUN_FILES.metrics), start.resume.step)) record.add(m);
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
      data: start.data,
      ...(start.resume ? { resume: start.resume } : {}),
      ...(early
        ? { stopAfter: (m: StepMetrics) => m.eval !== undefined && best.evalsSinceBest >= early.patience }
        : {}),
      ...(o.engine !== undefined ? { engine: o.engine } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      ...(o.shards !== undefined ? { shards: o.shards } : {}),
      sinks: (run) => (steps$) =>
        steps$.pipe(
          writeMetrics(join(dir, RUN_FILES.metrics), { append: start.resume !== undefined }),
          keepBest(best, {
            dir: join(dir, RUN_EXTRA_FILES.best),
            state: run.state,
            layout: run.model.layout.toJSON(),
            meta: () => ({ config, model: modelSpecOf(config, run.data) }),
            ...(early?.minDelta !== undefined ? { minDelta: early.minDelta } : {}),
          }),
          checkpointEvery({
            dir,
            every: config.evalEvery,
            state: run.state,
            layout: run.model.layout.toJSON(),
            meta: (m) => ({
              config,
              model: modelSpecOf(config, run.data),
              ...(m?.eval ? { finalEval: m.eval } : {}),
              ...best,
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
  // The last checkpoint once more, now with what resuming needs besides θ and the optimizer state (the
  // estimates still in flight, awaited by runTraining, and the skipped-step count).
  const rs = result.resumeState;
  const { checkpoint, weights } = await writeModelFiles(dir, {
    params: rs.params,
    layout: result.model.layout.toJSON(),
    optimizerState: rs.optState,
    step: rs.step,
    meta: {
      config,
      model: modelSpecOf(config, result.data),
      finalEval: result.finalEval,
      ...best,
      resume: { pending: rs.pending, skipped: rs.skipped },
    },
  });
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
    generated = generateText(result.model, result.params, result.data.corpus.vocab, block, {
      prompt: g.prompt ?? defaultPrompt(config, result.data.corpus.text),
      tokens: g.tokens ?? 240,
      temperature: g.temperature ?? 0.8,
      ...(g.topK !== undefined ? { topK: g.topK } : {}),
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
    kernels: describeKernels(),
    finalTrainLoss: record.trainLoss,
    heldOut: result.finalEval,
    seconds,
    samplesPerSecond:
      ((result.step - (start.resume?.step ?? 0)) * config.batchSize) / Math.max(seconds, 1e-9),
    ...(result.interrupted ? { interrupted: true } : {}),
    ...(result.stoppedEarly ? { stoppedEarly: true } : {}),
    ...(start.resume ? { resumedFrom: start.resume.step } : {}),
    ...(best.bestLoss !== null && best.bestStep !== null
      ? { best: { loss: best.bestLoss, step: best.bestStep } }
      : {}),
    ...(result.data.table?.skipped.count ? { skippedRows: result.data.table.skipped.count } : {}),
    ...(diagnostics ? { diagnostics } : {}),
    files: {
      config: join(dir, RUN_FILES.config),
      metrics: join(dir, RUN_FILES.metrics),
      metricsCsv: join(dir, RUN_FILES.metricsCsv),
      checkpoint,
      weights,
      plotSvg: plot.svg,
      plotPng: plot.png,
      ...(best.bestLoss !== null ? { best: join(dir, RUN_EXTRA_FILES.best) } : {}),
      ...(result.data.corpus ? { vocab: join(dir, RUN_EXTRA_FILES.vocab) } : {}),
      ...(result.data.table ? { data: join(dir, RUN_EXTRA_FILES.data) } : {}),
    },
    ...(generated !== undefined ? { generated } : {}),
  };
  await writeJson(join(dir, RUN_EXTRA_FILES.summary), summary);
  if (o.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const rel = shownPath(dir);
    const what = isLm ? 'next-character accuracy' : 'accuracy';
    const lines = [
      `hessflow train: ${name} — ${config.model.kind} (${summary.parameters.toLocaleString('en')} parameters), ${config.optimizer.name}, ${summary.steps}${summary.interrupted || summary.stoppedEarly ? ` of ${config.steps}` : ''} steps${summary.resumedFrom !== undefined ? ` (resumed at step ${summary.resumedFrom})` : ''}${summary.interrupted ? ' (interrupted)' : ''}${summary.stoppedEarly ? ` (early stopping: no better held-out loss in ${config.earlyStopping?.patience} evaluations)` : ''}${summary.skipped ? ` (${summary.skipped} skipped)` : ''}`,
      ...(summary.skippedRows
        ? [`  bad rows skipped  ${summary.skippedRows} (data.badRows "skip"; see ${RUN_EXTRA_FILES.data})`]
        : []),
      `  final train loss  ${summary.finalTrainLoss.toFixed(4)}  (EMA 0.9 of the minibatch loss)`,
      `  held-out loss     ${summary.heldOut.loss.toFixed(4)}   ${what} ${(100 * summary.heldOut.accuracy).toFixed(2)}% (${summary.heldOut.predictions} predictions)`,
      ...(summary.best
        ? [
            `  best held-out     ${summary.best.loss.toFixed(4)} after step ${summary.best.step} (${RUN_EXTRA_FILES.best}/)`,
          ]
        : []),
      `  time              ${seconds.toFixed(1)} s (${summary.samplesPerSecond.toFixed(0)} samples/s)`,
      `  kernels           ${summary.kernels}`,
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
    lines.push(
      '',
      isLm
        ? `Next: hessflow sample ${rel} --prompt "…"   or   hessflow hessian --checkpoint ${rel}`
        : result.data.table
          ? `Next: hessflow predict ${rel} --input <file>   or   hessflow hessian --checkpoint ${rel}`
          : `Next: hessflow hessian --checkpoint ${rel}`,
    );
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
    .option('--force', 'with --out: replace the run already in that directory')
    .option(
      '--resume <run>',
      "continue a run from its checkpoint (bit for bit); --steps sets the new total, --config must keep the run's model, optimizer and data",
    )
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
