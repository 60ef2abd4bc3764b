#!/usr/bin/env node
/**
 * The `hessflow` command: train, sample, predict, compare, hessian, daemon. Argument parsing by commander; a usage error (unknown
 * command or flag, bad value, invalid config) prints a clear message and exits with 2, a failure while
 * running exits with 1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { compareCommandSpec } from './commands/compare.js';
import { daemonCommandSpec } from './commands/daemon.js';
import { hessianCommandSpec } from './commands/hessian.js';
import { optimizersCommandSpec } from './commands/optimizers.js';
import { predictCommandSpec } from './commands/predict.js';
import { publishCommandSpec } from './commands/publish.js';
import { sampleCommandSpec } from './commands/sample.js';
import { trainCommandSpec } from './commands/train.js';
import { workerCommandSpec } from './commands/worker.js';
import { packageRoot } from './config.js';
import { MissingOptionalDependencyError } from '../util/optional-dependency.js';
import { UsageError } from './errors.js';
import { DataFileError } from '../data/data-file-error.js';

/** `onExitCode`: a command that decides its own exit code (the daemon) reports it here. */
export function program(onExitCode: (code: number) => void = () => undefined): Command {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  const root = new Command('hessflow')
    .description('Second-order clipped stochastic optimization (Sophia) and Hessian diagnostics')
    .version(pkg.version, '-V, --version', 'print the version')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Examples:
  hessflow train                                  MNIST MLP with SOAP (config/quickstart.json)
  hessflow train --config config/char-gpt.json    Moby Dick character GPT, prints generated text
  hessflow train --resume runs/<run> --steps 2000 continue a run from its checkpoint, bit for bit
  hessflow sample runs/<run> --prompt "Call me" --temperature 0.8 --top-k 10
  hessflow predict runs/<run> --input new.csv     classes of new rows (a run on a CSV/JSONL file)
  hessflow compare --optimizers adamw,sophia-g --steps 300
  hessflow hessian --checkpoint runs/<run>        trace, eigenvalues, density, stability, HAWQ
  hessflow daemon --config config/daemon.json     training service (HTTP/TCP ingest, /metrics)
  hessflow optimizers [name]                      the optimizers, their hyperparameters and presets
  hessflow publish --to nats://127.0.0.1:4222/TRAIN          MNIST batches to a JetStream stream
  hessflow train --source nats://127.0.0.1:4222/TRAIN --out runs/nats   train from it, exactly once
  hessflow worker --nats nats://broker:4222 --run exp1   serve a pipeline's gradient and probe tasks`,
    );
  for (const sub of [
    trainCommandSpec(),
    sampleCommandSpec(),
    predictCommandSpec(),
    compareCommandSpec(),
    hessianCommandSpec(),
    daemonCommandSpec(onExitCode),
    optimizersCommandSpec(),
    publishCommandSpec(),
    workerCommandSpec(onExitCode),
  ])
    root.addCommand(sub);
  // Every command throws instead of exiting, so the exit code is decided in one place.
  const override = (c: Command) => {
    c.exitOverride();
    c.showHelpAfterError(`(run "hessflow ${c.name() === 'hessflow' ? '' : `${c.name()} `}--help" for usage)`);
    c.commands.forEach(override);
  };
  override(root);
  return root;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const cli = program((code) => (exitCode = code));
  try {
    await cli.parseAsync(argv, { from: 'user' });
    if (argv.length === 0) cli.outputHelp();
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0)
        return 0;
      if (e.code === 'commander.help') return 0;
      return 2; // commander already printed the message
    }
    // A user's data file that cannot be read as configured: the message names file:line:column.
    if (e instanceof UsageError || e instanceof DataFileError) {
      process.stderr.write(`hessflow: ${e.message}\n`);
      return 2;
    }
    // A missing optional package (installed with --omit=optional): its message says what to install.
    if (
      e instanceof MissingOptionalDependencyError ||
      (e as Error)?.name === 'MissingOptionalDependencyError'
    ) {
      process.stderr.write(`hessflow: ${(e as Error).message}\n`);
      return 1;
    }
    process.stderr.write(`hessflow: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

// A reader that stops early (`hessflow --help | head`) closes the pipe: that ends the output, it is no
// crash. Any other write error still is.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
}

process.exitCode = await main(process.argv.slice(2));
