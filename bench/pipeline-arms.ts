/**
 * Wall time per step through the streaming pipeline (2 gradient workers, concurrent probes: the
 * gpt-pipeline suite's setup) of each arm of a sweep plan, as the arm trains it: its config with the
 * plan's optimizer and curvature overrides, at the arm's first listed rate. Arms run in interleaved
 * rounds so they share the machine's load; prints the median over rounds of each round's median step,
 * with the load average, and records nothing. For arms the gpt-pipeline suite does not time (plan
 * overrides, variants), whose steps × ms/step give the pipeline time to a target.
 *
 *   npx tsx bench/pipeline-arms.ts --plan bench/plans/gpt-reference-vs-muon.json [--rounds 3] [--steps 40]
 */
import { parseArgs } from 'node:util';
import { loadAverage } from './lib/machine.js';
import { median } from './lib/timing.js';
import { pipelineStepMs, WARMUP } from './suites/gpt-pipeline.js';
import { readPlan, runSpec } from './sweep/plan.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { plan: { type: 'string' }, rounds: { type: 'string' }, steps: { type: 'string' } },
  });
  if (!values.plan) throw new Error('pipeline-arms: --plan <file> is required');
  const rounds = Number(values.rounds ?? 3);
  const steps = Number(values.steps ?? 40);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`pipeline-arms: --rounds must be a positive integer, got ${values.rounds}`);
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`pipeline-arms: --steps must be a positive integer, got ${values.steps}`);
  const plan = readPlan(values.plan);
  const configs = plan.arms.map((arm) => runSpec(arm, arm.lrs[0], plan.tuneSeeds[0]).config);
  const perRound = plan.arms.map((): number[] => []);
  const loadStart = loadAverage();
  for (let r = 0; r < rounds; r++)
    for (const [i, config] of configs.entries())
      perRound[i].push(await pipelineStepMs(config, WARMUP + steps));
  const loadEnd = loadAverage();
  const ms = perRound.map((x) => median(x));
  for (const [i, arm] of plan.arms.entries())
    console.log(
      `${arm.label}: ${ms[i].toFixed(1)} ms/step (÷ first arm ${(ms[i] / ms[0]).toFixed(3)}; rounds ${perRound[i].map((x) => x.toFixed(1)).join(', ')})`,
    );
  console.log(`load average (1 min) at start ${loadStart.toFixed(2)}, at end ${loadEnd.toFixed(2)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
