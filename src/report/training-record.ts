/**
 * What `hessflow train` keeps of each step for the person reading the run: metrics.csv (one row per
 * step, written as the run goes, beside metrics.ndjson) and the training plot — the smoothed train loss
 * over the raw minibatch losses, the held-out loss and accuracy (the final evaluation included, also
 * after Ctrl-C), the learning rate, Sophia's win-rate and the periodic Hessian diagnostics when the run
 * has them. "Train loss" is LossEma everywhere (loss-ema.ts).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { LossEma } from './loss-ema.js';
import { type Panel, type Point, writeFigure } from './plots.js';

/** The fields of a step's metrics the record reads (StepMetrics with optional diagnostics). */
export interface RecordedStep {
  step: number;
  loss: number;
  gradNorm: number;
  updateNorm: number;
  skipped: boolean;
  winRate?: number;
  eval?: { loss: number; accuracy: number };
  diagnostics?: { lambdaMax?: number; trace?: number };
  ms: number;
}

/** metrics.csv's columns; `step` is the 0-based step index, as in metrics.ndjson. */
export const CSV_COLUMNS = [
  'step',
  'loss',
  'train_loss_ema',
  'lr',
  'grad_norm',
  'update_norm',
  'skipped',
  'win_rate',
  'eval_loss',
  'eval_accuracy',
  'lambda_max',
  'hessian_trace',
  'ms',
] as const;

function cell(x: number | boolean | undefined): string {
  if (x === undefined) return '';
  if (typeof x === 'boolean') return x ? '1' : '0';
  return Number.isFinite(x) ? String(x) : '';
}

export class TrainingRecord {
  private readonly ema = new LossEma();
  private fd: number | null = null;
  readonly raw: Point[] = [];
  readonly smoothed: Point[] = [];
  readonly evalLoss: Point[] = [];
  readonly evalAccuracy: Point[] = [];
  readonly lr: Point[] = [];
  readonly winRate: Point[] = [];
  readonly lambdaMax: Point[] = [];
  readonly trace: Point[] = [];

  /**
   * @param lrAt the learning rate in effect at a step (the schedule), for the lr column and panel.
   * @param csvPath where metrics.csv goes; omitted, no file is written.
   */
  constructor(
    private readonly lrAt: (step: number) => number,
    csvPath?: string,
  ) {
    if (csvPath !== undefined) {
      this.fd = openSync(csvPath, 'w');
      writeSync(this.fd, `${CSV_COLUMNS.join(',')}\n`);
    }
  }

  /** The train loss after the last step (LossEma of the minibatch losses). */
  get trainLoss(): number {
    return this.ema.value;
  }

  add(m: RecordedStep): void {
    const x = m.step + 1;
    const smoothed = this.ema.add(m.loss);
    const lr = this.lrAt(m.step);
    if (Number.isFinite(m.loss)) this.raw.push({ x, y: m.loss });
    if (Number.isFinite(smoothed)) this.smoothed.push({ x, y: smoothed });
    this.lr.push({ x, y: lr });
    if (m.winRate !== undefined) this.winRate.push({ x, y: m.winRate });
    if (m.eval) this.addEval(m.step, m.eval);
    const d = m.diagnostics;
    if (d?.lambdaMax !== undefined) this.lambdaMax.push({ x, y: d.lambdaMax });
    if (d?.trace !== undefined) this.trace.push({ x, y: d.trace });
    if (this.fd !== null)
      writeSync(
        this.fd,
        `${[
          m.step,
          m.loss,
          smoothed,
          lr,
          m.gradNorm,
          m.updateNorm,
          m.skipped,
          m.winRate,
          m.eval?.loss,
          m.eval?.accuracy,
          d?.lambdaMax,
          d?.trace,
          m.ms,
        ]
          .map(cell)
          .join(',')}\n`,
      );
  }

  /**
   * The run's final evaluation at `step` (0-based; the last step reached, also after Ctrl-C): added to
   * the held-out series unless that step was already evaluated.
   */
  addFinalEval(step: number, e: { loss: number; accuracy: number }): void {
    const x = step + 1;
    if (this.evalLoss.length > 0 && this.evalLoss[this.evalLoss.length - 1].x === x) return;
    this.addEval(step, e);
  }

  private addEval(step: number, e: { loss: number; accuracy: number }): void {
    this.evalLoss.push({ x: step + 1, y: e.loss });
    this.evalAccuracy.push({ x: step + 1, y: e.accuracy });
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** The plot's panels; `steps` is the x range (the steps reached). */
  panels(o: { steps: number; languageModel: boolean }): Panel[] {
    const xDomain: [number, number] = [1, Math.max(2, o.steps)];
    const panels: Panel[] = [
      {
        title: `${o.languageModel ? 'Loss (nats per character)' : 'Loss'}: train loss = EMA 0.9 of the minibatch loss, raw faint`,
        xTitle: 'step',
        yTitle: 'cross-entropy',
        series: [
          { name: 'train, raw minibatch', points: this.raw, faint: true },
          { name: 'train (EMA 0.9)', points: this.smoothed },
          { name: 'held-out', points: this.evalLoss, symbols: true, dash: [5, 3] },
        ],
        legendTitle: 'loss',
        xDomain,
      },
      {
        title: o.languageModel ? 'Held-out next-character accuracy' : 'Held-out accuracy',
        xTitle: 'step',
        yTitle: 'accuracy',
        series: [{ name: 'held-out', points: this.evalAccuracy, symbols: true }],
        xDomain,
        yFormat: '.1~%',
        // At least 10 percentage points of axis: a 0.2-point wobble stays a wobble.
        yMinSpan: 0.1,
        yBounds: [0, 1],
      },
      {
        title: 'Learning rate (the schedule)',
        xTitle: 'step',
        yTitle: 'lr',
        series: [{ name: 'lr', points: this.lr }],
        xDomain,
        yFormat: '.2~e',
      },
    ];
    if (this.winRate.length > 0)
      panels.push({
        title: 'Win-rate: share of live coordinates whose Sophia step is not clipped',
        xTitle: 'step',
        yTitle: 'win-rate',
        series: [{ name: 'win-rate', points: this.winRate }],
        xDomain,
        yFormat: '.0%',
        yMinSpan: 0.2,
        yBounds: [0, 1],
      });
    const curvature = [
      ...(this.lambdaMax.length > 0 ? [{ name: 'λmax', points: this.lambdaMax, symbols: true }] : []),
      ...(this.trace.length > 0 ? [{ name: 'trace', points: this.trace, symbols: true, dash: [5, 3] }] : []),
    ];
    if (curvature.length > 0)
      panels.push({
        title: 'Hessian diagnostics (periodic)',
        xTitle: 'step',
        yTitle: 'value',
        series: curvature,
        legendTitle: 'estimate',
        xDomain,
      });
    return panels;
  }

  /** Writes `<base>.svg` and `<base>.png`. */
  writeFigure(base: string, o: { steps: number; languageModel: boolean; title: string }) {
    return writeFigure(base, this.panels(o), { title: o.title });
  }
}
