/**
 * What one PSGD-Kron update costs on the reference char-GPT's tensors, beside AdamW's: the wall time of
 * `update` (after warm-up; minimum and median) with a refit on every step (whitening mode's first 500 steps; Hessian
 * mode on a step bringing a pair) and without one (preconditioning only, P·m̂).
 *
 *   npx tsx bench/psgd-kron-cost.ts [--reps 15]
 */
import { parseArgs } from 'node:util';
import { activeKernelBackend } from '../src/kernels/index.js';
import { gpt } from '../src/nn/models/gpt.js';
import { tensorLayoutOf } from '../src/nn/tensor-layout.js';
import { type GradientTransformation, type UpdateExtra, adamw, psgdKron } from '../src/optim/index.js';
import { rng } from '../src/random/counter-rng.js';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '15' } } });
const reps = Number(values.reps);
const model = gpt({ kind: 'gpt', vocabSize: 80, blockSize: 64, nLayer: 2, nHead: 4, nEmbd: 64, tied: true });
const layout = tensorLayoutOf(model);
const n = model.layout.size;
const params = rng(1, 'bench-params').fillNormal(new Float32Array(n), 0, 0.02);
const grads = rng(2, 'bench-grads').fillNormal(new Float32Array(n), 0, 1e-3);
const pair = {
  v: rng(3, 'bench-v').fillNormal(new Float32Array(n)),
  hv: rng(4, 'bench-hv').fillNormal(new Float32Array(n)),
};

/** [min, median] wall time of `update` in ms: the minimum is the cost on an otherwise idle core. */
function timeOf(opt: GradientTransformation, extra: UpdateExtra): [number, number] {
  let state = opt.init(params, layout);
  const times: number[] = [];
  for (let k = 0; k < reps + 3; k++) {
    const t0 = performance.now();
    [, state] = opt.update(grads, state, params, extra);
    if (k >= 3) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return [times[0], times[Math.floor(times.length / 2)]];
}

const shapes = layout.map((s) => `${s.name.split('.').slice(-2).join('.')}[${s.shape.join('×')}]`);
console.log(`${n} parameters in ${layout.length} tensors; matmul kernel: ${activeKernelBackend('matmul')}`);
console.log(`tensors: ${shapes.join(' ')}`);
const rows: [string, [number, number]][] = [
  ['adamw', timeOf(adamw({ lr: 1e-3 }), {})],
  ['psgdKron whitening, refit every step', timeOf(psgdKron({ updateProbability: 1 }), {})],
  ['psgdKron whitening, no refit (P·m̂ only)', timeOf(psgdKron({ updateProbability: 1e-9 }), {})],
  ['psgdKron hessian, step with a pair', timeOf(psgdKron({ mode: 'hessian' }), { hessianPair: pair })],
];
console.log(`${''.padEnd(44)}   min ms  median ms`);
for (const [name, [lo, mid]] of rows)
  console.log(`${name.padEnd(44)} ${lo.toFixed(2).padStart(8)} ${mid.toFixed(2).padStart(10)}`);
