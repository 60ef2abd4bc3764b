/**
 * The listener half of a TrainingEngine, written once for both engines: `onStep`, `onError`, `onProbe`
 * and `onDiverged` register, and the engine's own code emits to everyone registered, in registration order.
 */
import type { Divergence } from './divergence.js';
import type { AppliedStep, ProbeTiming } from './engine.js';

export abstract class EngineListeners {
  private readonly stepListeners: ((s: AppliedStep) => void)[] = [];
  private readonly errorListeners: ((e: Error, seq: number, dropped: boolean) => void)[] = [];
  private readonly probeListeners: ((p: ProbeTiming) => void)[] = [];
  private readonly divergedListeners: ((d: Divergence) => void)[] = [];

  onStep(listener: (s: AppliedStep) => void): void {
    this.stepListeners.push(listener);
  }

  /** `dropped`: the batch was taken off the queue (its own fault); otherwise it is kept and training halts. */
  onError(listener: (e: Error, seq: number, dropped: boolean) => void): void {
    this.errorListeners.push(listener);
  }

  /**
   * Called once per applied estimate with the probe's own computation time (not its queueing: in the
   * pipeline, probes overlap steps on their own worker); `step` is the launch step.
   */
  onProbe(listener: (p: ProbeTiming) => void): void {
    this.probeListeners.push(listener);
  }

  /** Called once when training diverges (divergence.ts). */
  onDiverged(listener: (d: Divergence) => void): void {
    this.divergedListeners.push(listener);
  }

  protected emitStep(s: AppliedStep): void {
    for (const l of this.stepListeners) l(s);
  }

  protected emitError(e: Error, seq: number, dropped = true): void {
    for (const l of this.errorListeners) l(e, seq, dropped);
  }

  protected emitProbe(p: ProbeTiming): void {
    for (const l of this.probeListeners) l(p);
  }

  protected emitDiverged(d: Divergence): void {
    for (const l of this.divergedListeners) l(d);
  }
}
