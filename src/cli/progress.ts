/**
 * The training progress bar (cli-progress) on stderr: step, loss, held-out accuracy, samples/s,
 * Sophia's win-rate and, when the run computes Hessian diagnostics, the latest λmax. Off when stderr is not a TTY or with --no-progress; then `log` prints a line at each
 * evaluation instead (unless quiet). Also the Ctrl-C policy of the training commands (`stopOnSigint`).
 */
import cliProgress from 'cli-progress';
import { LossEma } from '../report/loss-ema.js';
import type { DiagnosedMetrics } from '../streams/diagnose-every.js';
import type { StepMetrics } from '../step/records.js';

export interface ProgressOptions {
  label: string;
  total: number;
  samplesPerStep: number;
  bar: boolean;
  /** No evaluation lines either (e.g. --json). */
  quiet?: boolean;
  /** The run computes periodic Hessian diagnostics: the bar shows the latest λmax (or trace). */
  diagnostics?: boolean;
}

export class TrainingProgress {
  private readonly bar: cliProgress.SingleBar | null;
  private readonly started = performance.now();
  private readonly lossEma = new LossEma();
  private accuracy = NaN;
  private curvature = '-';
  private stopped = false;

  constructor(private readonly o: ProgressOptions) {
    this.bar = o.bar
      ? new cliProgress.SingleBar(
          {
            format: `${o.label} {bar} {value}/{total} | train loss (EMA) {loss} | acc {acc} | {sps} samples/s | win-rate (live) {win}${o.diagnostics ? ' | {curv}' : ''} | {eta_formatted}`,
            barsize: 24,
            hideCursor: true,
            stream: process.stderr,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    this.bar?.start(o.total, 0, { loss: '-', acc: '-', sps: '-', win: '-', curv: 'λmax -' });
  }

  update(m: StepMetrics): void {
    const loss = this.lossEma.add(m.loss);
    if (m.eval) this.accuracy = m.eval.accuracy;
    const seconds = (performance.now() - this.started) / 1000;
    const sps = ((m.step + 1) * this.o.samplesPerStep) / Math.max(seconds, 1e-9);
    const acc = Number.isNaN(this.accuracy) ? '-' : `${(100 * this.accuracy).toFixed(1)}%`;
    const d = (m as DiagnosedMetrics).diagnostics;
    const parts = d
      ? [
          ...(d.lambdaMax === undefined ? [] : [`λmax ${d.lambdaMax.toPrecision(4)}`]),
          ...(d.trace === undefined ? [] : [`Hessian trace ${d.trace.toPrecision(4)}`]),
        ]
      : [];
    if (parts.length > 0) this.curvature = parts[0];
    if (this.stopped) return;
    if (this.bar) {
      this.bar.update(m.step + 1, {
        loss: Number.isNaN(loss) ? '-' : loss.toFixed(4),
        acc,
        sps: sps.toFixed(0),
        win: m.winRate === undefined ? '-' : m.winRate.toFixed(3),
        curv: this.curvature,
      });
    } else if (m.eval && !this.o.quiet) {
      process.stderr.write(
        `${this.o.label} step ${String(m.step + 1).padStart(5)}/${this.o.total}  train loss (EMA) ${loss.toFixed(4)}  ` +
          `held-out loss ${m.eval.loss.toFixed(4)}  accuracy ${acc}  ${sps.toFixed(0)} samples/s` +
          `${m.winRate === undefined ? '' : `  win-rate (live coordinates) ${m.winRate.toFixed(3)}`}\n`,
      );
    }
    if (d && !this.bar && !this.o.quiet) {
      process.stderr.write(
        `${this.o.label} step ${String(m.step + 1).padStart(5)}/${this.o.total}  ${parts.join('  ')}  (${(d.ms / 1000).toFixed(1)} s)\n`,
      );
    }
  }

  /** Ends the bar and gives the terminal its cursor back; safe to call more than once. */
  stop(): void {
    if (!this.bar || this.stopped) return;
    this.stopped = true;
    this.bar.stop();
  }
}

/**
 * Ctrl-C while training: the first one aborts `signal` (the run stops after the step in progress, closes
 * its worker threads and writes what it reached); a second one exits at once with 130. `dispose` removes
 * the handler when the run is over.
 */
export function stopOnSigint(onFirst?: () => void): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) {
      process.stderr.write('\ninterrupted\n');
      process.exit(130);
    }
    onFirst?.();
    controller.abort();
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, dispose: () => process.removeListener('SIGINT', handler) };
}
