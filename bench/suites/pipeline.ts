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
import type { Row, Section, SuiteContext } from '../lib/types.js';

const SIZES = [784, 256, 256, 10];
const BATCHES = [128, 1024];
const WARMUP = 3;
const spec: ModelSpec = { kind: 'mlp', sizes: SIZES, activation: 'tanh' };

/** Deterministic synthetic batch of step k: inputs in [0, 1), labels 0–9. */
const batchesOf =
  (rows: number) =>
  (k: number): Batch => {
    const inputs = new Float32Array(rows * SIZES[0]);
    let s = (k * 2654435761 + 1) >>> 0;
    for (let i = 0; i < inputs.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      inputs[i] = s / 2 ** 32;
    }
    const targets = Int32Array.from({ length: rows }, (_, i) => (i * 7 + k) % 10);
    return { inputs, inputShape: [rows, SIZES[0]], targets, targetShape: [rows] };
  };

/** Median ms per step after warm-up. */
function medianStep(ms: number[]): number {
  const s = ms.slice(WARMUP).sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

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

async function pipelineMs<S>(config: PipelineConfig<S>, rows: number, steps: number): Promise<StepTime> {
  const p = createPipeline(config);
  const ms: number[] = [];
  let c0 = process.cpuUsage();
  let cpuMs = NaN;
  try {
    await lastValueFrom(
      p.run(fromDataset(batchesOf(rows), { end: steps })).pipe(
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

function trainerMs(rows: number, steps: number): StepTime {
  const trainer = new Trainer({
    model: buildModel(spec),
    optimizer: adamw({ lr: 1e-3 }),
    batchAt: batchesOf(rows),
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
  const base = { model: spec, seed: 1, probeWorkers: 1 };
  const adam = () => adamw({ lr: 1e-3 });
  const sophia = () => sophiaG({ lr: 1e-4 });
  const gnb = { estimator: 'gnb' as const, every: 10 };
  const t = {
    sync: trainerMs(rows, steps),
    p1s1: await pipelineMs({ ...base, optimizer: adam(), workers: 1, shards: 1 }, rows, steps),
    w1: await pipelineMs({ ...base, optimizer: adam(), workers: 1, shards: 2 }, rows, steps),
    w2: await pipelineMs({ ...base, optimizer: adam(), workers: 2, shards: 2 }, rows, steps),
    sophia2: await pipelineMs(
      { ...base, optimizer: sophia(), workers: 2, shards: 2, curvature: gnb },
      rows,
      steps,
    ),
    sophia1: await pipelineMs(
      { ...base, optimizer: sophia(), workers: 1, shards: 2, curvature: gnb },
      rows,
      steps,
    ),
  };
  const ms = (k: keyof typeof t) => t[k].ms;
  const sps = (v: number) => (rows * 1000) / v;
  const row = (config: string, k: keyof typeof t, ratio: number, target = ''): Row => ({
    config,
    ms: ms(k),
    cpuMs: t[k].cpuMs,
    samplesPerS: sps(ms(k)),
    ratio,
    target,
  });
  const rowsOut: Row[] = [
    row('Trainer (synchronous, in-thread)', 'sync', 1),
    row(
      'pipeline, 1 worker, 1 shard (vs Trainer)',
      'p1s1',
      ms('p1s1') / ms('sync'),
      yesNo(ms('p1s1') / ms('sync') <= 1.1, '≤ 1.10'),
    ),
    row('pipeline, 1 worker, 2 shards (vs Trainer)', 'w1', ms('w1') / ms('sync')),
    row(
      'pipeline, 2 workers, 2 shards (speed-up vs 1 worker)',
      'w2',
      ms('w1') / ms('w2'),
      yesNo(ms('w1') / ms('w2') >= 1.8, '≥ 1.8×'),
    ),
    row(
      'Sophia-G k = 10, 2 workers (vs AdamW, 2 workers)',
      'sophia2',
      ms('sophia2') / ms('w2'),
      yesNo(ms('sophia2') / ms('w2') <= 1.05, '≤ 1.05'),
    ),
    row(
      'Sophia-G k = 10, 1 worker (vs AdamW, 1 worker)',
      'sophia1',
      ms('sophia1') / ms('w1'),
      yesNo(ms('sophia1') / ms('w1') <= 1.05, '≤ 1.05'),
    ),
  ];
  for (const r of rowsOut)
    log(
      `pipeline batch ${rows}, ${r.config}: ${(r.ms as number).toFixed(1)} ms/step (CPU ${(r.cpuMs as number).toFixed(1)}), ratio ${(r.ratio as number).toFixed(2)}`,
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
      `Median wall time per step over ${steps - WARMUP} steps after ${WARMUP} warm-up steps; AdamW unless stated.`,
      'CPU ms/step: process CPU time (all threads) per timed step; on a shared machine it moves less with load than wall time.',
      'Ratios: pipeline rows against Trainer; the 2-worker row is the speed-up over 1 worker with the same 2 shards; Sophia-G against AdamW with the same workers.',
      'On a machine with fewer free cores than threads (gradient workers + probe + coordinator) the parallel rows cannot reach their targets: with 2 workers on 2 cores the probe has no core of its own.',
      "Steps are sequential: the coordinator's optimizer update runs alone between the shards of one step and the next, so the 2-worker speed-up is at most (2·shard + update)/(shard + update) by Amdahl's law; the larger batch shrinks the update's share.",
    ],
  };
}

export async function pipelineSuite(ctx: SuiteContext): Promise<Section[]> {
  const out: Section[] = [];
  for (const rows of BATCHES) out.push(await batchSection(rows, ctx.quick, ctx.log));
  return out;
}
