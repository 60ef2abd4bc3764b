/**
 * Progress of a command made of long numerical stages (`hessflow hessian`): one cli-progress bar per
 * stage on stderr, counting HVPs against the stage's upper bound (a stage that converges stops early and
 * its bar ends short of the bound). Off when stderr is not a TTY, with --json or --no-progress; then
 * only the stage's summary line is printed. Each stage runs through `drive`, so a Ctrl-C between two
 * HVPs stops it with its partial result.
 */
import cliProgress from 'cli-progress';
import { type Driven, type Stepwise, drive } from '../diagnostics/stepwise.js';

export interface StageProgressOptions {
  bar: boolean;
  /** No summary lines either (e.g. --json). */
  quiet: boolean;
  signal: AbortSignal;
}

export class StageProgress {
  constructor(private readonly o: StageProgressOptions) {}

  /** A summary line on stderr (unless quiet). */
  log(message: string): void {
    if (!this.o.quiet) process.stderr.write(`${message}\n`);
  }

  get interrupted(): boolean {
    return this.o.signal.aborted;
  }

  /** Runs one stage; `summary` gives its closing line (e.g. "trace: 37 probes, converged"). */
  async run<R>(
    label: string,
    steps: Stepwise<R>,
    summary: (r: R, interrupted: boolean) => string,
  ): Promise<Driven<R>> {
    let bar: cliProgress.SingleBar | null = null;
    const driven = await drive(steps, {
      signal: this.o.signal,
      onProgress: (p) => {
        if (!this.o.bar) return;
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format: `  ${label.padEnd(22)} {bar} {value}/{total} HVPs (at most) | {duration_formatted}`,
              barsize: 24,
              hideCursor: true,
              stream: process.stderr,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(p.total, 0);
        }
        bar.update(p.done);
      },
    });
    (bar as cliProgress.SingleBar | null)?.stop();
    this.log(`  ${summary(driven.result, driven.interrupted)}${driven.interrupted ? ' (interrupted)' : ''}`);
    return driven;
  }
}
