/**
 * The reference char-GPT's step through the streaming pipeline (createPipeline: 2 gradient workers, the
 * default 4 shards, curvature probes concurrent on their own thread, optimizer updates in the
 * coordinator), for every arm of the reference sweep's plan. The sweep multiplies each arm's steps to a
 * target by this to give the wall time to it through the pipeline, beside the Trainer's (gpt suite).
 * Every arm runs once per round, rounds interleaved; the figure is the median over rounds of each
 * round's median step after warm-up.
 */
import { lastValueFrom, tap } from 'rxjs';
import { readConfig, type RunConfig } from '../../src/cli/config.js';
import { buildOptimizer, modelSpecOf, setupData } from '../../src/cli/run-setup.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import { repoRoot } from '../lib/paths.js';
import { median } from '../lib/timing.js';
import type { Row, Section, SuiteContext } from '../lib/types.js';
import { join } from 'node:path';
import { readPlan } from '../sweep/plan.js';

export const WARMUP = 3;
export const WORKERS = 2;

/** Median wall time per step (after WARMUP) of `config` trained for `steps` steps through the pipeline. */
export async function pipelineStepMs(base: RunConfig, steps: number): Promise<number> {
  const config = { ...base, steps };
  const data = setupData(config);
  const spec = modelSpecOf(config, data);
  const model = buildModel(spec);
  const pipeline = createPipeline({
    model: spec,
    optimizer: buildOptimizer(config, model),
    seed: config.seed,
    batchSpec: data.batchSpec,
    workers: WORKERS,
    ...(config.curvature ? { curvature: config.curvature } : {}),
  });
  const ms: number[] = [];
  try {
    await lastValueFrom(
      pipeline.run(fromDataset(data.batchAt, { end: steps })).pipe(tap((m) => ms.push(m.ms))),
    );
  } finally {
    await pipeline.close();
  }
  return median(ms.slice(WARMUP));
}

export async function gptPipelineSuite(ctx: SuiteContext): Promise<Section[]> {
  const plan = readPlan(join(repoRoot(), 'bench/plans/gpt-reference.json'));
  // Enough steps for every 10-step curvature refresh to land a few times after warm-up.
  const steps = WARMUP + (ctx.quick ? 20 : 40);
  const rounds = ctx.quick ? 1 : 3;
  const perRound = new Map<string, number[]>(plan.arms.map((a) => [a.label, []]));
  for (let r = 0; r < rounds; r++) {
    for (const arm of plan.arms)
      perRound.get(arm.label)!.push(await pipelineStepMs(readConfig(join(repoRoot(), arm.config)), steps));
  }
  const adam = median(perRound.get('AdamW') ?? [NaN]);
  const rows: Row[] = plan.arms.map((arm) => {
    const ms = median(perRound.get(arm.label)!);
    ctx.log(`${arm.label} through the pipeline: ${ms.toFixed(1)} ms/step`);
    return { optimizer: arm.label, ms, vsAdamW: ms / adam };
  });
  return [
    {
      id: 'gpt-pipeline-step',
      title: `Reference char-GPT through the pipeline (${WORKERS} gradient workers, 4 shards, concurrent probes): time per step`,
      columns: [
        { key: 'optimizer', label: 'optimizer' },
        { key: 'ms', label: 'ms/step', digits: 1 },
        { key: 'vsAdamW', label: '÷ AdamW', digits: 2 },
      ],
      rows,
      notes: [
        `Median over ${rounds} interleaved round(s) of each round's median wall time per step (${steps} steps, the first ${WARMUP} left out); curvature probes run on the pipeline's probe thread, concurrent with the gradient workers, and the optimizer's update (Newton–Schulz, eigenbases, Kronecker factors) in the coordinator.`,
      ],
    },
  ];
}
