/**
 * One checkout's step cost, for bench/engine-ab.ts: `tsx bench/engine-ab/step.ts ROOT KIND` imports
 * ROOT's sources (so two revisions run the same script) and prints one JSON line with the median
 * wall and CPU milliseconds per step after 5 warm-up steps. CPU time is the whole process's (worker
 * threads included), which a loaded machine disturbs far less than wall time.
 *
 * KIND: trainer-mlp (Sophia-G, MLP 32-256-256-10, batch 256, GNB every 10), trainer-gpt (Sophia-G,
 * char-GPT 1 layer × 32, batch 8 × 16), pipeline (the MLP through createPipeline, 2 workers, 2 shards).
 * Uses only the public API both revisions share (src/index.ts, src/optim/index.ts).
 */
import { lastValueFrom, tap, toArray } from 'rxjs';

const [root, kind] = process.argv.slice(2);
const m = await import(`${root}/src/index.ts`);
const o = await import(`${root}/src/optim/index.ts`);
const WARMUP = 5;

const wall: number[] = [];
const cpu: number[] = [];
let lastWall = performance.now();
let lastCpu = process.cpuUsage();
/** Starts the clocks: the first step's time runs from here. */
function start(): void {
  lastWall = performance.now();
  lastCpu = process.cpuUsage();
}
/** Called after each step: the time since the previous call is that step's. */
function lap(): void {
  const w = performance.now();
  const c = process.cpuUsage();
  wall.push(w - lastWall);
  cpu.push((c.user - lastCpu.user + c.system - lastCpu.system) / 1000);
  lastWall = w;
  lastCpu = c;
}

const curvature = { estimator: 'gnb', every: 10 };
if (kind === 'trainer-mlp' || kind === 'pipeline') {
  const data = m.softmaxRegressionData({ samples: 2048, features: 32, classes: 10, seed: 3 });
  const spec = { kind: 'mlp', sizes: [32, 256, 256, 10], activation: 'tanh' };
  const batchAt = (k: number) => m.batchAt(data.dataset, { batchSize: 256, seed: 2 }, k);
  const optimizer = o.sophiaG({ lr: 0.01, rho: 0.05 });
  if (kind === 'trainer-mlp') {
    start();
    for (const _ of new m.Trainer({
      model: m.buildModel(spec),
      optimizer,
      batchAt,
      steps: 100,
      seed: 1,
      curvature,
    }))
      lap();
  } else {
    const p = m.createPipeline({ model: spec, optimizer, seed: 1, shards: 2, workers: 2, curvature });
    start();
    await lastValueFrom(p.run(m.fromDataset(batchAt, { end: 100 })).pipe(tap(lap), toArray()));
    await p.close();
  }
} else if (kind === 'trainer-gpt') {
  const corpus = m.loadMobyDick();
  const model = m.buildModel({
    kind: 'gpt',
    vocabSize: corpus.vocabSize,
    blockSize: 16,
    nLayer: 1,
    nHead: 2,
    nEmbd: 32,
  });
  const batchAt = (k: number) => corpus.trainBatch(8, 16, 5, k);
  const optimizer = o.sophiaG({ lr: 1e-3, rho: 0.05 });
  start();
  for (const _ of new m.Trainer({ model, optimizer, batchAt, steps: 60, seed: 1, curvature })) lap();
} else {
  throw new Error(`unknown kind ${kind}: trainer-mlp, trainer-gpt or pipeline`);
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  JSON.stringify({
    kind,
    steps: wall.length - WARMUP,
    wallMs: median(wall.slice(WARMUP)),
    cpuMs: median(cpu.slice(WARMUP)),
  }),
);
