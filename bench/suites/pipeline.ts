/**
 * The streaming pipeline's speed on the MLP 784-256-256-10 (tanh), float32, at batch 128 and at a
 * compute-bound batch of 1024 (where the gradient, not the per-step update and messaging, dominates):
 * samples/s with 1 and 2 gradient workers, the pipeline with 1 worker against the synchronous `Trainer`
 * (same gradient math: one shard), and Sophia-G (GNB refresh every k = 10 steps, probe on its own thread)
 * against AdamW per step, with 2 workers and with 1 (which leaves a core of a 2-core machine to the
 * probe). Every configuration trains the same steps from the same start; the first steps (thread
 * start-up, JIT) are excluded from the timing.
 */
import { lastValueFrom, tap } from 'rxjs';
import type { Batch } from '../../src/data/batch.js';
import type { ModelSpec } from '../../src/nn/model.js';
import { buildModel } from '../../src/nn/models/registry.js';
import { adamw, sophiaG } from '../../src/optim/index.js';
import { createPipeline } from '../../src/pipeline/create-pipeline.js';
import type { PipelineConfig } from '../../src/pipeline/config.js';
import { fromDataset } from '../../src/streams/from-dataset.js';
import { Trainer } from '../../src/train/train.js';
import { median, pairedRatio } from '../lib/timing.js';
import { type WorkerCeiling, workerCeiling } from '../lib/worker-ceiling.js';
import type { Row, Section, SuiteContext } from '../lib/types.js';

const SIZES = [784, 256, 256, 10];
const BATCHES = [128, 1024];
const WARMUP = 3;
const spec: ModelSpec = { kind: 'mlp', sizes: SIZES, activation: 'tanh' };

/** Deterministic synthetic batch number k: inputs in [0, 1), labels 0–9. */
function syntheticBatch(rows: number, k: number): Batch {
  const inputs = new Float32Array(rows * SIZES[0]);
  let s = (k * 2654435761 + 1) >>> 0;
  for (let i = 0; i < inputs.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    inputs[i] = s / 2 ** 32;
  }
  const targets = Int32Array.from({ length: rows }, (_, i) => (i * 7 + k) % 10);
  return { inputs, inputShape: [rows, SIZES[0]], targets, targetShape: [rows] };
}

/** Distinct batches in the in-memory dataset every configuration cycles through. */
const DATASET_BATCHES = 8;

/**
 * Step k's batch, from a dataset held in memory as a loaded one is. Generating each step's inputs
 * instead (800k pseudo-random floats at batch 1024) cost the coordinator's thread 4.5 ms a step, time a
 * real source does not spend there and which, on 2 cores, the gradient workers lost.
 */
function batchesOf(rows: number): (k: number) => Batch {
  const dataset = Array.from({ length: DATASET_BATCHES }, (_, k) => syntheticBatch(rows, k));
  return (k) => dataset[k % DATASET_BATCHES];
}

/** Median ms per step after warm-up. */
const medianStep = (ms: number[]): number => median(ms.slice(WARMUP));

/**
 * Wall time per step (median) and process CPU time per step (all threads: coordinator, workers, GC;
 * mean over the timed steps). On a shared machine the CPU time is the steadier of the two: it leaves
 * out the time threads waited for a core.
 */
interface StepTime {
  ms: number;
  cpuMs: number;
}

function cpuSince(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

async function pipelineMs<S>(
  config: PipelineConfig<S>,
  batchAt: (k: number) => Batch,
  steps: number,
): Promise<StepTime> {
  const p = createPipeline(config);
  const ms: number[] = [];
  let c0 = process.cpuUsage();
  let cpuMs = NaN;
  try {
    await lastValueFrom(
      p.run(fromDataset(batchAt, { end: steps })).pipe(
        tap((m) => {
          if (ms.push(m.ms) === WARMUP) c0 = process.cpuUsage();
        }),
      ),
    );
    cpuMs = cpuSince(c0) / (steps - WARMUP);
  } finally {
    await p.close();
  }
  return { ms: medianStep(ms), cpuMs };
}

function trainerMs(batchAt: (k: number) => Batch, steps: number): StepTime {
  const trainer = new Trainer({
    model: buildModel(spec),
    optimizer: adamw({ lr: 1e-3 }),
    batchAt,
    steps,
    seed: 1,
  });
  const ms: number[] = [];
  let c0 = process.cpuUsage();
  for (const m of trainer) if (ms.push(m.ms) === WARMUP) c0 = process.cpuUsage();
  return { ms: medianStep(ms), cpuMs: cpuSince(c0) / (steps - WARMUP) };
}

const yesNo = (ok: boolean, target: string) => (ok ? `yes (${target})` : `no (${target})`);

async function batchSection(rows: number, quick: boolean, log: (s: string) => void): Promise<Section> {
  // The same number of samples per configuration at either batch size, at least 20 timed steps.
  const steps = WARMUP + Math.max(20, Math.round(((quick ? 20 : 60) * 128) / rows));
  const rounds = quick ? 2 : 5;
  const batchAt = batchesOf(rows);
  const base = { model: spec, seed: 1, probeWorkers: 1 };
  const adam = () => adamw({ lr: 1e-3 });
  const sophia = () => sophiaG({ lr: 1e-4 });
  const gnb = { estimator: 'gnb' as const, every: 10 };
  const configs = {
    sync: async () => trainerMs(batchAt, steps),
    p1s1: () => pipelineMs({ ...base, optimizer: adam(), workers: 1, shards: 1 }, batchAt, steps),
    w1: () => pipelineMs({ ...base, optimizer: adam(), workers: 1, shards: 2 }, batchAt, steps),
    w2: () => pipelineMs({ ...base, optimizer: adam(), workers: 2, shards: 2 }, batchAt, steps),
    sophia2: () =>
      pipelineMs({ ...base, optimizer: sophia(), workers: 2, shards: 2, curvature: gnb }, batchAt, steps),
    sophia1: () =>
      pipelineMs({ ...base, optimizer: sophia(), workers: 1, shards: 2, curvature: gnb }, batchAt, steps),
  };
  type Config = keyof typeof configs;
  // Every configuration once per round; a ratio is the median of its within-round ratios, which moves
  // far less on a shared machine than the ratio of two medians taken minutes apart.
  const t = Object.fromEntries(Object.keys(configs).map((k) => [k, [] as StepTime[]])) as Record<
    Config,
    StepTime[]
  >;
  const ceilings: WorkerCeiling[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const k of Object.keys(configs) as Config[]) t[k].push(await configs[k]());
    ceilings.push(await workerCeiling(spec, batchAt(0)));
  }
  const ms = (k: Config) => median(t[k].map((x) => x.ms));
  const ratioOf = (a: Config, b: Config) =>
    pairedRatio(
      t[a].map((x) => x.ms),
      t[b].map((x) => x.ms),
    );
  const sps = (v: number) => (rows * 1000) / v;
  const row = (config: string, k: Config, ratio: number, target = ''): Row => ({
    config,
    ms: ms(k),
    cpuMs: median(t[k].map((x) => x.cpuMs)),
    samplesPerS: sps(ms(k)),
    ratio,
    target,
  });
  const [overhead, speedUp] = [ratioOf('p1s1', 'sync'), ratioOf('w1', 'w2')];
  const [sophia2, sophia1] = [ratioOf('sophia2', 'w2'), ratioOf('sophia1', 'w1')];
  const together = median(ceilings.map((c) => c.togetherMs));
  const rowsOut: Row[] = [
    row('Trainer (synchronous, in-thread)', 'sync', 1),
    row('pipeline, 1 worker, 1 shard (vs Trainer)', 'p1s1', overhead, yesNo(overhead <= 1.1, '≤ 1.10')),
    row('pipeline, 1 worker, 2 shards (vs Trainer)', 'w1', ratioOf('w1', 'sync')),
    row(
      'pipeline, 2 workers, 2 shards (speed-up vs 1 worker)',
      'w2',
      speedUp,
      yesNo(speedUp >= 1.8, '≥ 1.8×'),
    ),
    {
      config: 'bare gradient workers: 2 shards at once vs one after the other (ceiling of the speed-up)',
      ms: together,
      cpuMs: null,
      samplesPerS: sps(together),
      ratio: median(ceilings.map((c) => c.ceiling)),
      target: '',
    },
    row(
      'Sophia-G k = 10, 2 workers (vs AdamW, 2 workers)',
      'sophia2',
      sophia2,
      yesNo(sophia2 <= 1.05, '≤ 1.05'),
    ),
    row(
      'Sophia-G k = 10, 1 worker (vs AdamW, 1 worker)',
      'sophia1',
      sophia1,
      yesNo(sophia1 <= 1.05, '≤ 1.05'),
    ),
  ];
  for (const r of rowsOut)
    log(
      `pipeline batch ${rows}, ${r.config}: ${(r.ms as number).toFixed(1)} ms/step` +
        (r.cpuMs === null ? '' : ` (CPU ${(r.cpuMs as number).toFixed(1)})`) +
        `, ratio ${(r.ratio as number).toFixed(2)}`,
    );
  return {
    id: rows === 128 ? 'pipeline' : `pipeline-b${rows}`,
    title: `Streaming pipeline, MLP ${SIZES.join('-')} (tanh), batch ${rows}, float32: time per step`,
    columns: [
      { key: 'config', label: 'configuration' },
      { key: 'ms', label: 'ms/step', digits: 1 },
      { key: 'cpuMs', label: 'CPU ms/step', digits: 1 },
      { key: 'samplesPerS', label: 'samples/s', digits: 0 },
      { key: 'ratio', label: 'ratio', digits: 2 },
      { key: 'target', label: 'target met' },
    ],
    rows: rowsOut,
    notes: [
      `${rounds} rounds, each running every configuration once for ${steps - WARMUP} steps after ${WARMUP} warm-up steps; ms/step is the median over rounds of each round's median step; AdamW unless stated.`,
      `Batches come from an in-memory dataset of ${DATASET_BATCHES} batches, cycled.`,
      'CPU ms/step: process CPU time (all threads) per timed step, median over rounds; on a shared machine it moves less with load than wall time.',
      'Ratios are medians of the within-round ratios: pipeline rows against Trainer; the 2-worker row is the speed-up over 1 worker with the same 2 shards; Sophia-G against AdamW with the same workers.',
      'On a machine with fewer free cores than threads (gradient workers + probe + coordinator) the parallel rows cannot reach their targets: with 2 workers on 2 cores the probe has no core of its own.',
      "Steps are sequential: the coordinator's optimizer update runs alone between the shards of one step and the next, so the 2-worker speed-up is at most (2·shard + update)/(shard + update) by Amdahl's law; the larger batch shrinks the update's share.",
      "Bare gradient workers (bench/lib/worker-ceiling.ts): the pipeline's gradient pools without a pipeline, in each round; ms/step is a pair of half-batch shards started together, the ratio (the two shards one after the other on a 1-thread pool)/(the pair): the 2-worker speed-up a coordinator costing nothing would reach on this machine.",
    ],
  };
}

export async function pipelineSuite(ctx: SuiteContext): Promise<Section[]> {
  const out: Section[] = [];
  for (const rows of BATCHES) out.push(await batchSection(rows, ctx.quick, ctx.log));
  return out;
}
