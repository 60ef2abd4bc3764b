/**
 * The optimizer-update cost of Muon against AdamW on the reference char-GPT's parameters
 * (config/gpt-reference-adamw.json: nLayer 2, nHead 4, nEmbd 64, blockSize 64, vocab 80, tied): random
 * gradients, `update` timed alternately for Muon and AdamW in one process so both see the same machine
 * load; prints medians. Only the update — the forward and backward passes are the same for both.
 *
 *   npx tsx bench/muon-step.ts [--steps 50]
 *   npx tsx bench/muon-step.ts --dump out.json   # also writes a 3-step case for bench/reference/muon_check.py
 *   npx tsx bench/muon-step.ts --train [--rounds 3]  # whole Trainer steps (forward, backward, update) on the
 *                                                     # reference config's data, Muon and AdamW alternately
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { gpt } from '../src/nn/models/gpt.js';
import { tensorLayoutOf } from '../src/nn/tensor-layout.js';
import { adamw, applyUpdates, muon, type GradientTransformation } from '../src/optim/index.js';
import { CounterRng } from '../src/random/counter-rng.js';
import { readConfig } from '../src/cli/config.js';
import { modelSpecOf, setupData, trainerFor } from '../src/cli/run-setup.js';
import { buildModel } from '../src/nn/models/registry.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string' },
    dump: { type: 'string' },
    train: { type: 'boolean' },
    rounds: { type: 'string' },
  },
});
const steps = Number(values.steps ?? 50);

const model = gpt({ kind: 'gpt', vocabSize: 80, blockSize: 64, nLayer: 2, nHead: 4, nEmbd: 64, tied: true });
const layout = tensorLayoutOf(model);
const n = model.layout.size;
const rng = new CounterRng(1);
const normal = (k: number, scale: number): Float32Array => {
  const v = new Float32Array(k);
  for (let i = 0; i < k; i++) v[i] = scale * rng.normal();
  return v;
};

function timeUpdates(opt: GradientTransformation, params: Float32Array, grads: Float32Array[]): number[] {
  let state = opt.init(params, layout);
  const ms: number[] = [];
  for (const g of grads) {
    // Process CPU time: on a shared machine, wall time mostly measures the wait for a core.
    const c0 = process.cpuUsage();
    const [, next] = opt.update(g, state, params);
    const c = process.cpuUsage(c0);
    ms.push((c.user + c.system) / 1000);
    state = next;
  }
  return ms;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (values.train) {
  // The reference config's model and batches; AdamW exactly as the config builds it (clip, schedule),
  // Muon with its defaults (no clip): the comparison is of time, not of loss.
  const config = readConfig('config/gpt-reference-adamw.json');
  const data = setupData(config);
  const gptModel = buildModel(modelSpecOf(config, data));
  const trainers = {
    muon: trainerFor(config, data, gptModel, muon()),
    adamw: trainerFor(config, data, gptModel),
  };
  const times: Record<string, number[]> = { muon: [], adamw: [] };
  const cpu: Record<string, number[]> = { muon: [], adamw: [] };
  for (const tr of Object.values(trainers)) tr.step(); // first steps build kernels
  for (let r = 0; r < Number(values.rounds ?? 3); r++) {
    for (const [name, tr] of Object.entries(trainers))
      for (let k = 0; k < 4; k++) {
        const c0 = process.cpuUsage();
        times[name].push(tr.step().ms);
        const c = process.cpuUsage(c0);
        cpu[name].push((c.user + c.system) / 1000);
      }
  }
  for (const [what, xs] of [
    ['wall', times],
    ['CPU', cpu],
  ] as const) {
    const [mu, ad] = [median(xs.muon), median(xs.adamw)];
    console.log(
      `Trainer step (${what}): muon median ${mu.toFixed(1)} ms, adamw ${ad.toFixed(1)} ms, ratio ${(mu / ad).toFixed(3)}`,
    );
  }
} else if (values.dump) {
  // A small case for the PyTorch check: params, layout and 3 gradients of the GPT's shapes.
  const params = normal(n, 0.02);
  const grads = [0, 1, 2].map(() => normal(n, 0.01));
  const options = { lr: 0.02, weightDecay: 0.1, adamLr: 3e-3, adamWeightDecay: 0.01 };
  const opt = muon(options);
  let state = opt.init(params, layout);
  let p: Float32Array = params;
  for (const g of grads) {
    const [u, next] = opt.update(g, state, p);
    p = applyUpdates(p, u);
    state = next;
  }
  const list = (v: Float32Array) => Array.from(v);
  writeFileSync(
    values.dump,
    JSON.stringify({ options, layout, params: list(params), grads: grads.map(list), final: list(p) }),
  );
  console.log(`wrote ${values.dump}: ${n} parameters, ${layout.length} tensors, 3 steps`);
} else {
  const params = normal(n, 0.02);
  const grads = Array.from({ length: 2 }, () => normal(n, 0.01));
  const seq = Array.from({ length: 5 }, (_, i) => grads[i % 2]);
  const m: number[] = [];
  const a: number[] = [];
  // Warm up both (wasm kernels compile on first use), then alternate rounds of 5 updates each.
  timeUpdates(muon(), params, seq);
  timeUpdates(adamw(), params, seq);
  for (let r = 0; r < Math.ceil(steps / 5); r++) {
    m.push(...timeUpdates(muon(), params, seq));
    a.push(...timeUpdates(adamw(), params, seq));
  }
  const matrices = layout.filter((s) => s.role === 'matrix');
  console.log(
    `${n} parameters; ${matrices.length} Muon matrices: ${matrices.map((s) => s.shape.join('x')).join(' ')}`,
  );
  console.log(`muon  update: median ${median(m).toFixed(2)} ms CPU over ${m.length}`);
  console.log(`adamw update: median ${median(a).toFixed(2)} ms CPU over ${a.length}`);
  console.log(`difference: ${(median(m) - median(a)).toFixed(2)} ms per step`);
}
