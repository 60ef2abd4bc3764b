/**
 * Step cost against the JavaScript peer (issue 8): one Adam step of an MLP 784-256-256-10 (tanh,
 * softmax cross-entropy) at batch 128, float32 — hessflow (valueAndGrad + adamw + applyUpdates, the
 * work of one Trainer step) against TF.js 4 with its cpu and wasm backends (dev dependencies used only
 * here). Interleaved rounds, medians. TF.js keeps its own graph and optimizer state; both sides train
 * the same architecture on fixed random data, so each call is a real optimizer step. PyTorch does the
 * same step, its rounds interleaved, when torch is installed (bench/reference/mlp_step.py). Suite
 * 'mlp-torch' times hessflow against PyTorch alone, without the TF.js rounds (`mlpTorchSuite`).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setFiniteChecks } from '../../src/tensor/index.js';
import { MLP_BATCH, mlpAdamStep } from '../lib/mlp-adam-step.js';
import { REFERENCE_COLUMNS, pytorchRounds, referenceCells, referenceNote } from '../lib/pytorch-reference.js';
import { type Samples, interleave, pairedRatio } from '../lib/timing.js';
import type { Row, Section, SuiteContext } from '../lib/types.js';

const BATCH = MLP_BATCH;
const PYTORCH = 'PyTorch';

async function tfjsStep(backend: 'cpu' | 'wasm'): Promise<() => number> {
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} is not available`);
  await tf.ready();
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 256, activation: 'tanh' }),
      tf.layers.dense({ units: 256, activation: 'tanh' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomUniform([BATCH, 784], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([BATCH], 0, 10, 'int32', 2), 10);
  // TF.js runs each backend's kernels only while that backend is active: switch before every call.
  return () => {
    if (tf.getBackend() !== backend) tf.setBackend(backend);
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor),
      true,
    )!;
    const v = loss.dataSync()[0];
    loss.dispose();
    return v;
  };
}

/** The row label (the kernels it ran on are in the record's machine line). */
const HESSFLOW = 'hessflow';
/** Steps per round for hessflow and PyTorch alike. */
const STEPS_PER_ROUND = 5;
/**
 * Rounds before the measured ones: 100 steps, so V8 has compiled the hot JavaScript and tiered the
 * WebAssembly kernels up (with 10 warm-up steps the background compilation still ran during the
 * measured rounds: hessflow's CPU time per step was 2.3× PyTorch's against 1.6× its wall time).
 */
const WARMUP_ROUNDS = 20;

/** Samples of rounds of `steps` steps, as per-step samples. */
function perStep(s: Samples, steps: number): Samples {
  const ms = s.ms.map((x) => x / steps);
  const cpu = s.cpu.map((x) => x / steps);
  return { ms, cpu, median: s.median / steps, min: s.min / steps, cpuMedian: s.cpuMedian / steps };
}

export function tfjsSuite(ctx: SuiteContext): Promise<Section[]> {
  return adamStepSuite(ctx, true);
}

/**
 * The same step against PyTorch alone (suite 'mlp-torch'): no TF.js rounds in between. In the tfjs
 * suite hessflow shares its process with TF.js, whose rounds (77 and 376 ms a step) run between
 * hessflow's and leave it cold caches and TF.js's garbage, while PyTorch runs undisturbed in its own
 * process; here both run alone in their processes, rounds interleaved.
 */
export function mlpTorchSuite(ctx: SuiteContext): Promise<Section[]> {
  return adamStepSuite(ctx, false);
}

async function adamStepSuite(ctx: SuiteContext, withTfjs: boolean): Promise<Section[]> {
  setFiniteChecks(false); // as in training: the loop checks loss, gradient and update itself
  const steps: Record<string, () => number> = {
    [HESSFLOW]: mlpAdamStep(),
    ...(withTfjs
      ? { 'TF.js 4 wasm backend': await tfjsStep('wasm'), 'TF.js 4 cpu backend': await tfjsStep('cpu') }
      : {}),
  };
  const losses: Record<string, number> = {};
  const rounds = ctx.quick ? 7 : 21;
  // PyTorch's rounds interleaved with the others: the machine's speed drifts within minutes.
  const pytorch = pytorchRounds('mlp_step.py', STEPS_PER_ROUND);
  // hessflow takes as many steps per round as PyTorch does (a round's first step finds the caches
  // the other process left); TF.js one (its steps are 15–75× longer).
  const stepped: Record<string, () => void> = Object.fromEntries(
    Object.entries(steps).map(([k, f]) => [
      k,
      k === HESSFLOW
        ? () => {
            for (let i = 0; i < STEPS_PER_ROUND; i++) losses[k] = f();
          }
        : () => void (losses[k] = f()),
    ]),
  );
  if (pytorch.stepper) stepped[PYTORCH] = pytorch.stepper;
  const timed = interleave(stepped, { warmup: WARMUP_ROUNDS, rounds });
  const samples = { ...timed, [HESSFLOW]: perStep(timed[HESSFLOW], STEPS_PER_ROUND) };
  const torch = pytorch.finish(WARMUP_ROUNDS);
  setFiniteChecks(true);
  for (const [k, l] of Object.entries(losses)) {
    if (!Number.isFinite(l)) throw new Error(`${k}: loss ${l} is not finite`);
  }
  const ours = samples[HESSFLOW].median;
  const rows: Row[] = Object.entries(samples)
    .filter(([name]) => name !== PYTORCH)
    .map(([name, s]) => ({
      implementation: name,
      ms: s.median,
      cpuMs: s.cpuMedian,
      vsHessflow: s.median / ours,
    }));
  // hessflow's step ÷ PyTorch's within each round (rounds seconds apart share the machine's state),
  // only from a comparable reference (sgemm ≥ 45 GFLOP/s, start load ≤ 0.5: comparability.ts).
  const paired =
    'ms' in torch && torch.check.comparable
      ? {
          wall: pairedRatio(
            samples[HESSFLOW].ms,
            torch.perRound.map((r) => r.ms),
          ),
          cpu: pairedRatio(
            samples[HESSFLOW].cpu,
            torch.perRound.map((r) => r.cpuMs),
          ),
        }
      : null;
  if (paired)
    ctx.log(`hessflow ÷ PyTorch per round: wall ${paired.wall.toFixed(3)}, CPU ${paired.cpu.toFixed(3)}`);
  if ('ms' in torch) {
    rows.push({
      implementation: `PyTorch ${torch.torch} CPU, 1 thread (run here)`,
      ms: torch.ms,
      cpuMs: torch.cpuMs,
      vsHessflow: torch.check.comparable ? torch.ms / ours : null,
      ...referenceCells(torch),
    });
    ctx.log(referenceNote(torch));
  } else {
    ctx.log(`PyTorch not run: ${torch.missing}`);
    rows.push({
      implementation: 'PyTorch 1.13 CPU, 1 thread (quiet-machine figure, not run here)',
      ms: 7.8,
      cpuMs: null,
      vsHessflow: null, // not measured in this run: no ratio
    });
  }
  ctx.log(rows.map((r) => `${r.implementation}: ${(r.ms as number).toFixed(1)} ms`).join('; '));
  return [
    {
      id: withTfjs ? 'tfjs-adam-step' : 'mlp-torch-adam-step',
      title: withTfjs
        ? `Adam step, MLP 784-256-256-10 (tanh), batch ${BATCH}, float32: hessflow against TF.js (ms, lower is better)`
        : `Adam step, MLP 784-256-256-10 (tanh), batch ${BATCH}, float32: hessflow against PyTorch, each alone in its process (ms, lower is better)`,
      columns: [
        { key: 'implementation', label: 'implementation' },
        { key: 'ms', label: 'ms per step', digits: 1 },
        { key: 'cpuMs', label: 'CPU ms per step', digits: 1 },
        { key: 'vsHessflow', label: '× hessflow time', digits: 2 },
        ...('ms' in torch ? REFERENCE_COLUMNS : []),
      ],
      rows,
      notes: [
        'One step = loss, gradient, Adam update and parameter write. TF.js: optimizer.minimize; hessflow: valueAndGrad, adamw, applyUpdates.',
        withTfjs
          ? 'Reference numbers on this machine kind (shared/ENVIRONMENT.md): TF.js 318 ms (cpu), 66 ms (wasm). Target: hessflow ≥ 2× faster than TF.js-wasm.'
          : 'No TF.js rounds in this process (suite mlp-torch): hessflow and PyTorch each run alone in their own process, their rounds interleaved.',
        'ms' in torch
          ? `PyTorch: bench/reference/mlp_step.py, the same step (Adam, lr 1e-3) in its own process, ${STEPS_PER_ROUND} steps per round as hessflow's, its rounds interleaved with the others, timed by its own clocks (wall, and process CPU time); median of ${torch.rounds}.${paired ? ` hessflow's step ÷ PyTorch's, the median of the ratios within each round: wall ${paired.wall.toFixed(2)}, CPU ${paired.cpu.toFixed(2)}.` : ''}`
          : 'PyTorch was not run here (install it with `apt install python3-torch libopenblas0-pthread`); its row is the quiet-machine figure, without a ratio.',
        ...('ms' in torch ? [referenceNote(torch)] : []),
      ],
    },
  ];
}
