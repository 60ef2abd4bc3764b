/**
 * One sweep run, in its own process (bench/sweep.ts forks one per run, several at a time): reads a
 * validated run config as JSON from argv, trains it with the synchronous Trainer (the reference loop, so
 * runs in parallel processes do not share worker threads) and writes NDJSON to stdout: an `eval` line at
 * every evaluation and a `final` line. Time is CPU time of this process spent in training steps, so runs
 * sharing a machine are still comparable.
 */
import type { RunConfig } from '../../src/cli/config.js';
import { modelSpecOf, setupData, trainerFor } from '../../src/cli/run-setup.js';
import { findStats } from '../../src/optim/index.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { setFiniteChecks } from '../../src/tensor/index.js';
import { evaluate } from '../../src/train/evaluate.js';

export interface EvalLine {
  type: 'eval';
  step: number;
  loss: number;
  /** Mean Sophia win-rate over the steps since the previous evaluation (absent for other optimizers). */
  winRate?: number;
  /** CPU seconds spent in training steps so far. */
  cpuSeconds: number;
}

/** The validation loss stopped being finite: the run ends there and reports no loss. */
export interface DivergedLine {
  type: 'diverged';
  step: number;
  cpuSeconds: number;
}

export interface FinalLine {
  type: 'final';
  loss: number;
  steps: number;
  skipped: number;
  cpuSeconds: number;
  wallSeconds: number;
}

const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;

function main(): void {
  const config = JSON.parse(process.argv[2] ?? 'null') as RunConfig;
  if (!config || typeof config !== 'object') throw new Error('run-one: pass the run config as JSON');
  setFiniteChecks(false); // the Trainer checks loss, gradient and update itself
  const data = setupData(config);
  const model = buildModel(modelSpecOf(config, data));
  const trainer = trainerFor(config, data, model);
  const write = (line: EvalLine | DivergedLine | FinalLine) =>
    process.stdout.write(JSON.stringify(line) + '\n');
  const started = performance.now();
  let cpu = 0;
  let winSum = 0;
  let winCount = 0;
  while (!trainer.done()) {
    const c0 = process.cpuUsage();
    const m = trainer.step();
    cpu += cpuSeconds(process.cpuUsage(c0));
    const stats = findStats(trainer.state().optState);
    if (stats) {
      winSum += stats.winRate;
      winCount++;
    }
    const step = m.step + 1;
    if (step % config.evalEvery === 0 || step === config.steps) {
      const { loss } = evaluate(model, trainer.state().params, data.evalBatches);
      if (!Number.isFinite(loss)) {
        write({ type: 'diverged', step, cpuSeconds: cpu });
        return;
      }
      write({
        type: 'eval',
        step,
        loss,
        ...(winCount ? { winRate: winSum / winCount } : {}),
        cpuSeconds: cpu,
      });
      winSum = 0;
      winCount = 0;
    }
  }
  const s = trainer.state();
  const { loss } = evaluate(model, s.params, data.evalBatches);
  write({
    type: 'final',
    loss,
    steps: s.step,
    skipped: s.skipped,
    cpuSeconds: cpu,
    wallSeconds: (performance.now() - started) / 1000,
  });
}

main();
