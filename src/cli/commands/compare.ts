/**
 * `hessflow compare`: the same data, seed and step budget for several optimizers, one after another; a
 * table (final loss, steps to a target loss, wall-clock) printed and written, and one plot with every
 * curve. Each optimizer gets its catalog preset for the kind of model the base config trains (the MNIST
 * MLP's or the char-GPT's) unless the base config already uses it, in which case its own
 * hyperparameters are kept; `--lr name=value` sets one optimizer's learning rate. Ctrl-C finishes the
 * step in progress and writes the table and plot of the optimizers that finished.
 */
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { writeFileAtomic } from '../../io/atomic-write.js';
import { smooth } from '../../report/loss-ema.js';
import { type Point, writeFigure } from '../../report/plots.js';
import { makeRunDir, writeJson, shownPath } from '../../report/run-dir.js';
import { writeMetrics } from '../../streams/write-metrics.js';
import { OPTIMIZERS, type OptimizerEntry, optimizerByCliName } from '../../catalog/index.js';
import { type RunConfig, defaultConfigPath, readConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { positiveInt, positiveNumber } from '../parse.js';
import { TrainingProgress, stopOnSigint } from '../progress.js';
import { runTraining } from '../run-training.js';

/** The catalog entry of a `--optimizers` name (already checked by parseOptimizerList). */
function entryOf(name: string): OptimizerEntry {
  const e = optimizerByCliName(name);
  if (!e) throw new UsageError(`unknown optimizer "${name}"; choose from ${CLI_NAMES.join(', ')}`);
  return e;
}

const CLI_NAMES = OPTIMIZERS.map((e) => e.cliName);

export function parseOptimizerList(value: string): string[] {
  const given = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (given.length === 0) throw new InvalidArgumentError('give at least one optimizer.');
  const bad = given.find((n) => optimizerByCliName(n) === undefined);
  if (bad !== undefined)
    throw new InvalidArgumentError(`unknown optimizer "${bad}"; choose from ${CLI_NAMES.join(', ')}.`);
  const names = given.map((n) => optimizerByCliName(n)!.cliName);
  if (new Set(names).size !== names.length) throw new InvalidArgumentError('an optimizer is listed twice.');
  return names;
}

/** `--lr adamw=3e-3,muon=0.02` (repeatable): a learning rate per optimizer, checked by name and value. */
export function parseLrOverrides(
  value: string,
  previous: Record<string, number> = {},
): Record<string, number> {
  const out = { ...previous };
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)) {
    const eq = part.indexOf('=');
    if (eq < 0) throw new InvalidArgumentError(`"${part}" is not optimizer=value (e.g. adamw=3e-3).`);
    const name = part.slice(0, eq).trim();
    const entry = optimizerByCliName(name);
    if (!entry)
      throw new InvalidArgumentError(`unknown optimizer "${name}"; choose from ${CLI_NAMES.join(', ')}.`);
    const text = part.slice(eq + 1).trim();
    const lr = Number(text);
    if (text === '' || !Number.isFinite(lr) || lr <= 0)
      throw new InvalidArgumentError(
        `the learning rate of ${name} must be a positive number, got "${text}".`,
      );
    out[entry.cliName] = lr;
  }
  return out;
}

/**
 * The config of one optimizer's run: the base config with the optimizer (and its curvature) replaced by
 * the catalog's preset for the base model's kind, unless the base config already uses that optimizer,
 * in which case its own hyperparameters are kept. `lr` overrides the learning rate.
 */
export function configFor(base: RunConfig, optimizer: string, steps: number, lr?: number): RunConfig {
  const entry = entryOf(optimizer);
  const preset = entry.presets[base.model.kind === 'gpt' ? 'gpt' : 'mlp'];
  const own = base.optimizer.name === entry.name;
  const config: RunConfig = structuredClone(base);
  config.name = `${base.name ?? 'run'}-${entry.cliName}`;
  config.steps = steps;
  config.evalEvery = Math.min(base.evalEvery, steps);
  config.optimizer = own ? structuredClone(base.optimizer) : structuredClone(preset.optimizer);
  if (lr !== undefined) config.optimizer.lr = lr;
  const curvature = own ? base.curvature : preset.curvature;
  if (curvature) config.curvature = structuredClone(curvature);
  else delete config.curvature;
  return config;
}

export interface CompareRow {
  optimizer: string;
  lr: number;
  finalLoss: number;
  heldOutLoss: number;
  heldOutAccuracy: number;
  stepsToTarget: number | null;
  seconds: number;
  msPerStep: number;
  skipped: number;
}

export interface CompareOptions {
  optimizers: string[];
  steps: number;
  /** Learning rate per optimizer (`--lr name=value`), over the preset's. */
  lr?: Record<string, number>;
  config?: string;
  out?: string;
  json?: boolean;
  target?: number;
  progress: boolean;
}

/** One dash pattern per optimizer, so curves that coincide stay visible (solid first). */
const DASHES = [
  [1, 0],
  [7, 3],
  [2, 2],
  [9, 3, 2, 3],
  [4, 4],
  [1, 3],
];

/** The smoothed loss curve: the one definition of train loss (src/report/loss-ema.ts). */
export { smooth };

function fmt(x: number, digits = 4): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}

export function markdownTable(rows: readonly CompareRow[], target: number): string {
  const head = `| optimizer | lr | final loss | held-out loss | accuracy | steps to loss ≤ ${fmt(target)} | wall-clock (s) | ms/step |`;
  const sep = '|---|---:|---:|---:|---:|---:|---:|---:|';
  const body = rows.map(
    (r) =>
      `| ${r.optimizer} | ${r.lr} | ${fmt(r.finalLoss)} | ${fmt(r.heldOutLoss)} | ${(100 * r.heldOutAccuracy).toFixed(2)}% | ${r.stepsToTarget ?? 'not reached'} | ${r.seconds.toFixed(1)} | ${r.msPerStep.toFixed(1)} |`,
  );
  return [head, sep, ...body].join('\n');
}

function textTable(rows: readonly CompareRow[], target: number): string {
  const header = [
    'optimizer',
    'lr',
    'final loss',
    'held-out loss',
    'accuracy',
    `steps to ${fmt(target, 3)}`,
    'time (s)',
  ];
  const cells = rows.map((r) => [
    r.optimizer,
    String(r.lr),
    fmt(r.finalLoss),
    fmt(r.heldOutLoss),
    `${(100 * r.heldOutAccuracy).toFixed(2)}%`,
    r.stepsToTarget === null ? '—' : String(r.stepsToTarget),
    r.seconds.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

export async function compareCommand(
  o: CompareOptions,
): Promise<{ rows: CompareRow[]; target: number; dir: string; interrupted: boolean }> {
  const base = readConfig(o.config ?? defaultConfigPath());
  const dir = makeRunDir(o.out, `compare-${base.name ?? 'run'}`);
  const curves = new Map<string, number[]>();
  const accuracy = new Map<string, Point[]>();
  const partial: Omit<CompareRow, 'stepsToTarget'>[] = [];
  let interrupted = false;
  for (const name of o.optimizers) {
    const config = configFor(base, name, o.steps, o.lr?.[name]);
    const losses: number[] = [];
    const acc: Point[] = [];
    const progress = new TrainingProgress({
      label: name.padEnd(10),
      total: config.steps,
      samplesPerStep: config.batchSize,
      bar: o.progress && !o.json && process.stderr.isTTY === true,
      quiet: true,
    });
    const interrupt = stopOnSigint(() => {
      progress.stop();
      process.stderr.write('\ninterrupted: finishing the step in progress (Ctrl-C again to quit now)\n');
    });
    let result;
    try {
      result = await runTraining(config, {
        signal: interrupt.signal,
        sinks: () => writeMetrics(join(dir, `metrics-${name}.ndjson`)),
        onStep(m) {
          losses.push(m.loss);
          if (m.eval) acc.push({ x: m.step + 1, y: m.eval.accuracy });
          progress.update(m);
        },
      });
    } finally {
      interrupt.dispose();
      progress.stop();
    }
    // The worker threads are closed and this run's metrics written; the other optimizers are not run,
    // and the table and plot below hold those that finished.
    if (result.interrupted) {
      interrupted = true;
      break;
    }
    const smoothed = smooth(losses);
    curves.set(name, smoothed);
    accuracy.set(name, acc);
    partial.push({
      optimizer: name,
      lr: config.optimizer.lr,
      finalLoss: smoothed[smoothed.length - 1],
      heldOutLoss: result.finalEval.loss,
      heldOutAccuracy: result.finalEval.accuracy,
      seconds: result.elapsedMs / 1000,
      msPerStep: result.elapsedMs / Math.max(1, result.step),
      skipped: result.skipped,
    });
    if (!o.json)
      process.stderr.write(
        `${name}: final loss ${fmt(smoothed[smoothed.length - 1])}, held-out accuracy ${(100 * result.finalEval.accuracy).toFixed(2)}%, ${(result.elapsedMs / 1000).toFixed(1)} s\n`,
      );
  }
  // Default target: the worst final (smoothed) loss, so every optimizer's time to it is comparable.
  const finals = partial.map((r) => r.finalLoss).filter(Number.isFinite);
  const target = o.target ?? (finals.length > 0 ? Math.max(...finals) : NaN);
  const rows: CompareRow[] = partial.map((r) => {
    const curve = curves.get(r.optimizer)!;
    const i = curve.findIndex((v) => v <= target);
    return { ...r, stepsToTarget: i < 0 ? null : i + 1 };
  });

  const finished = partial.map((r) => r.optimizer);
  if (finished.length === 0) {
    process.stderr.write('compare: interrupted before any optimizer finished; no table written\n');
    return { rows, target, dir, interrupted };
  }
  const figure = await writeFigure(
    join(dir, 'comparison'),
    [
      {
        title: 'Train loss (EMA 0.9 of the minibatch loss)',
        xTitle: 'step',
        yTitle: 'cross-entropy',
        series: finished.map((n, i) => ({
          name: n,
          points: curves.get(n)!.map((y, j) => ({ x: j + 1, y })),
          dash: DASHES[i % DASHES.length],
        })),
        legendTitle: 'optimizer',
        xDomain: [1, Math.max(2, o.steps)],
      },
      {
        title: 'Held-out accuracy',
        xTitle: 'step',
        yTitle: 'accuracy',
        series: finished.map((n, i) => ({
          name: n,
          points: accuracy.get(n)!,
          symbols: true,
          dash: DASHES[i % DASHES.length],
        })),
        legendTitle: 'optimizer',
        xDomain: [1, Math.max(2, o.steps)],
        yFormat: '.1~%',
      },
    ],
    { title: `hessflow compare: ${base.name ?? 'run'}, ${o.steps} steps, seed ${base.seed}` },
  );
  const md = `# hessflow compare\n\nConfig: ${base.name}, ${o.steps} steps, batch ${base.batchSize}, seed ${base.seed}.\n\n${markdownTable(rows, target)}\n`;
  await writeFileAtomic(join(dir, 'comparison.md'), md, { fsync: false });
  const report = {
    config: base.name,
    steps: o.steps,
    seed: base.seed,
    target,
    rows,
    runDir: dir,
    plot: figure,
  };
  await writeJson(join(dir, 'comparison.json'), report);
  if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    const rel = shownPath(dir);
    process.stdout.write(
      `\nhessflow compare: ${base.name}, ${o.steps} steps, seed ${base.seed}\n\n${textTable(rows, target)}\n\n` +
        `Written: ${rel}/comparison.{md,json,svg,png} and metrics-<optimizer>.ndjson\n`,
    );
  }
  return { rows, target, dir, interrupted };
}

export function compareCommandSpec(): Command {
  return new Command('compare')
    .description('train several optimizers on the same data, seed and budget; table and one plot')
    .requiredOption('--optimizers <list>', `comma-separated: ${CLI_NAMES.join(', ')}`, parseOptimizerList)
    .option(
      '--lr <optimizer=value>',
      "an optimizer's learning rate instead of its preset's (repeatable, or comma-separated)",
      parseLrOverrides,
    )
    .option('-s, --steps <n>', 'steps per optimizer', positiveInt, 300)
    .option(
      '-c, --config <file>',
      'base config: model, data, batch size, seed (default: config/quickstart.json)',
    )
    .option('-o, --out <dir>', 'output directory (default: runs/<timestamp>-compare-<name>)')
    .option(
      '--target <loss>',
      'target training loss for "steps to target" (default: the worst final loss)',
      positiveNumber,
    )
    .option('--json', 'print the table as JSON on stdout')
    .option('--no-progress', 'no progress bars')
    .action(async (opts: CompareOptions) => {
      const { interrupted } = await compareCommand(opts);
      // The table of what finished is written; exit as the shell expects of SIGINT (main's return value
      // would overwrite process.exitCode).
      if (interrupted) process.exit(130);
    });
}
