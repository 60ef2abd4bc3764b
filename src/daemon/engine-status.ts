/** The status() both training engines report, assembled in one place from the parts each one keeps. */
import type { BatchQueue } from './batch-queue.js';
import type { EngineStatus } from './engine.js';

/**
 * `progress`: the steps so far and how many were skipped; `optimizer`: its name and current
 * hyperparameters (copied into the status); `engine`: whether it is paused and the last applied loss.
 */
export function engineStatus(
  progress: { step: number; skipped: number },
  optimizer: EngineStatus['optimizer'],
  queue: BatchQueue,
  engine: {
    paused: boolean;
    lastLoss: number | null;
    halted: EngineStatus['halted'];
    diverged: EngineStatus['diverged'];
  },
): EngineStatus {
  return {
    step: progress.step,
    paramsVersion: progress.step - progress.skipped,
    skipped: progress.skipped,
    paused: engine.paused,
    optimizer: { name: optimizer.name, hyperparams: { ...optimizer.hyperparams } },
    queueDepth: queue.depth,
    queueLimit: queue.limit,
    nextSeq: queue.seqCounter,
    backend: 'cpu',
    lastLoss: engine.lastLoss,
    halted: engine.halted,
    diverged: engine.diverged ? { ...engine.diverged } : null,
  };
}
