/**
 * The one definition of "train loss" shown to a user — in the progress bar, the run summary, the
 * training plot and `compare`'s table: the bias-corrected exponential moving average (β = 0.9) of the
 * minibatch losses, skipping non-finite ones (a skipped step's loss). Bias correction makes the first
 * steps read as the mean of the losses so far rather than a value pulled towards zero.
 */
export class LossEma {
  private m = 0;
  private n = 0;

  constructor(readonly beta = 0.9) {
    if (!(beta >= 0 && beta < 1)) throw new RangeError(`LossEma: beta must be in [0, 1), got ${beta}`);
  }

  /** Adds one minibatch loss; returns the smoothed loss (NaN until a finite loss arrived). */
  add(loss: number): number {
    if (Number.isFinite(loss)) {
      this.m = this.beta * this.m + (1 - this.beta) * loss;
      this.n++;
    }
    return this.value;
  }

  get value(): number {
    return this.n === 0 ? NaN : this.m / (1 - this.beta ** this.n);
  }
}

/** The smoothed curve of a sequence of minibatch losses (LossEma after each). */
export function smooth(values: readonly number[], beta = 0.9): number[] {
  const ema = new LossEma(beta);
  return values.map((v) => ema.add(v));
}
