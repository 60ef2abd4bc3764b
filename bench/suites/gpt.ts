/**
 * The reference char-GPT's training step (2 layers, 4 heads, n_embd 64, block 64, batch 32, tied
 * embeddings; config/gpt-reference-*.json): time per Trainer step of every optimizer of the reference
 * sweep (Sophia-G: a GNB probe every 10 steps; Sophia-H: Hutchinson every 10; AdaHessian: Hutchinson every
 * step), interleaved rounds of 10 steps each; and PyTorch's AdamW step on the same model, run here before
 * and after those rounds when torch is installed (bench/reference/gpt_step.py).
 */
import { readConfig } from '../../src/cli/config.js';
import { modelSpecOf, setupData, trainerFor } from '../../src/cli/run-setup.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { setFiniteChecks } from '../../src/tensor/index.js';
import { repoRoot } from '../lib/paths.js';
import { REFERENCE_COLUMNS, pytorchRounds, referenceCells, referenceNote } from '../lib/pytorch-reference.js';
import { interleave, pairedRatio } from '../lib/timing.js';
import type { Row, Section, SuiteContext } from '../lib/types.js';
import { join } from 'node:path';
import { readPlan } from '../sweep/plan.js';

const STEPS_PER_SAMPLE = 10;
const PYTORCH = 'PyTorch';

/**
 * Every arm of the reference sweep's plan, by its label (the sweep reads these step costs by label), so an
 * optimizer added to the plan is timed here too.
 */
function configs(): Record<string, string> {
  const plan = readPlan(join(repoRoot(), 'bench/plans/gpt-reference.json'));
  return Object.fromEntries(plan.arms.map((a) => [a.label, a.config]));
}

export function gptSuite(ctx: SuiteContext): Section[] {
  setFiniteChecks(false); // as in training: the Trainer checks loss, gradient and update itself
  const steppers: Record<string, () => void> = {};
  for (const [label, file] of Object.entries(configs())) {
    const config = { ...readConfig(join(repoRoot(), file)), steps: 100_000 };
    const data = setupData(config);
    const model = buildModel(modelSpecOf(config, data));
    const trainer = trainerFor(config, data, model);
    steppers[label] = () => {
      for (let i = 0; i < STEPS_PER_SAMPLE; i++) trainer.step();
    };
  }
  const rounds = ctx.quick ? 3 : 15;
  // PyTorch's rounds interleaved with ours: the machine's speed drifts within minutes.
  const pytorch = pytorchRounds('gpt_step.py', STEPS_PER_SAMPLE);
  if (pytorch.stepper) steppers[PYTORCH] = pytorch.stepper;
  const samples = interleave(steppers, { warmup: 1, rounds });
  const torch = pytorch.finish(1);
  setFiniteChecks(true);
  const rows: Row[] = Object.entries(samples)
    .filter(([label]) => label !== PYTORCH)
    .map(([label, s]) => {
      ctx.log(`${label}: ${(s.median / STEPS_PER_SAMPLE).toFixed(1)} ms/step`);
      return {
        optimizer: label,
        ms: s.median / STEPS_PER_SAMPLE,
        cpuMs: s.cpuMedian / STEPS_PER_SAMPLE,
        vsAdamW: s.median / samples.AdamW.median,
      };
    });
  // hessflow's AdamW ÷ PyTorch within each round: rounds taken seconds apart share the machine's state.
  // ... quoted only from a comparable reference (sgemm ≥ 45 GFLOP/s, start load ≤ 0.5: comparability.ts).
  const paired =
    'ms' in torch && torch.check.comparable
      ? {
          wall: pairedRatio(
            samples.AdamW.ms.map((x) => x / STEPS_PER_SAMPLE),
            torch.perRound.map((r) => r.ms),
          ),
          cpu: pairedRatio(
            samples.AdamW.cpu.map((x) => x / STEPS_PER_SAMPLE),
            torch.perRound.map((r) => r.cpuMs),
          ),
        }
      : null;
  if ('ms' in torch) {
    ctx.log(
      `PyTorch ${torch.torch}: ${torch.ms.toFixed(1)} ms/step, ${torch.cpuMs.toFixed(1)} CPU ms/step; ${referenceNote(torch)}${paired ? ` AdamW ÷ PyTorch per round: wall ${paired.wall.toFixed(3)}, CPU ${paired.cpu.toFixed(3)}` : ''}`,
    );
    rows.push({
      optimizer: `AdamW in PyTorch ${torch.torch} (1 thread, run here)`,
      ms: torch.ms,
      cpuMs: torch.cpuMs,
      vsAdamW: paired ? (torch.ms * STEPS_PER_SAMPLE) / samples.AdamW.median : null,
      ...referenceCells(torch),
    });
  } else ctx.log(`PyTorch not run: ${torch.missing}`);
  return [
    {
      id: 'gpt-step',
      title: 'Reference char-GPT (2 layers, n_embd 64, block 64, batch 32): time per training step',
      columns: [
        { key: 'optimizer', label: 'optimizer' },
        { key: 'ms', label: 'ms/step', digits: 1 },
        { key: 'cpuMs', label: 'CPU ms/step', digits: 1 },
        { key: 'vsAdamW', label: '÷ AdamW', digits: 2 },
        ...('ms' in torch ? REFERENCE_COLUMNS : []),
      ],
      rows,
      notes: [
        `Median over interleaved rounds of ${STEPS_PER_SAMPLE} Trainer steps (one thread, finite checks off as in training), after one warm-up round; the Sophia rows include their probes (one step in ten), AdaHessian its Hutchinson probe every step.`,
        'ms' in torch
          ? `PyTorch: bench/reference/gpt_step.py, the same model and AdamW step in its own process (one thread), its rounds of ${STEPS_PER_SAMPLE} steps interleaved with these, timed by its own clocks (wall, and process CPU time of all its threads); median of ${torch.rounds}.${paired ? ` hessflow's AdamW step ÷ PyTorch's, the median of the ratios within each round: wall ${paired.wall.toFixed(2)}, CPU ${paired.cpu.toFixed(2)}.` : ''}`
          : `PyTorch not run here (${torch.missing}); on a quiet core of this machine kind PyTorch 1.13 (OpenBLAS) took 62.6–90 ms per step (AdamW). Install it with \`apt install python3-torch libopenblas0-pthread\`.`,
        ...('ms' in torch ? [referenceNote(torch)] : []),
      ],
    },
  ];
}
