/**
 * Divergence detection (#21 item 6). A step whose loss, gradient, update or new optimizer state is not
 * finite is skipped, which is right for one extreme batch. But once θ itself has gone bad (say SGD took
 * one valid batch with huge features and left weights near 1e37), every later batch is skipped too:
 * acknowledged, then thrown away, for a reason that is not the batch's. Batches are validated before
 * they are acknowledged, so `limit` consecutive skipped steps mean the model, not the data, is at fault:
 * the engine then stops taking batches (the queue is kept and checkpointed) and the daemon refuses
 * ingest until an operator recovers (see the `diverged` log line in daemon.ts).
 */

/** Where training diverged: the run of consecutive skipped steps that tripped the limit. */
export interface Divergence {
  /** Consecutive skipped steps. */
  steps: number;
  /** The first of them (the step index, as in the status). */
  firstStep: number;
  /** Seq range of the batches those steps skipped. */
  firstSeq: number;
  lastSeq: number;
}

export class DivergenceWatch {
  private run: Divergence | null = null;

  /** `limit`: consecutive skipped steps that mean divergence (0 = never). `diverged`: restored state. */
  constructor(
    private readonly limit: number,
    public diverged: Divergence | null = null,
  ) {
    if (!Number.isInteger(limit) || limit < 0)
      throw new RangeError(`divergenceSteps must be an integer >= 0, got ${limit}`);
  }

  /** After each step: true when this step made training diverged. */
  observe(seq: number, step: number, skipped: boolean): boolean {
    if (!skipped) {
      this.run = null;
      return false;
    }
    this.run = this.run
      ? { ...this.run, steps: this.run.steps + 1, lastSeq: seq }
      : { steps: 1, firstStep: step, firstSeq: seq, lastSeq: seq };
    if (this.diverged || this.limit === 0 || this.run.steps < this.limit) return false;
    this.diverged = { ...this.run };
    return true;
  }

  /** An operator's retry (POST /v1/resume): count afresh. */
  clear(): void {
    this.diverged = null;
    this.run = null;
  }
}
