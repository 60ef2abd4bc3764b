/**
 * How far PSGD-Kron's Hessian-fitted preconditioner gets from its initial value in the fits a reference
 * run gives it: at the reference char-GPT's θ₀ (config/gpt-reference-psgd-hessian.json, seed 1) and one
 * fixed batch, fit P to `--fits` exact pairs (v, H·v) (fresh v each, as the probe draws them) and print,
 * after 1, 10, 25, 50, 100, … fits, each tensor's gain rms(P·g)/rms(g) for that batch's gradient g.
 * A 1000-step run with `curvature.every: 10` makes 100 fits (at moving θ); psgd_torch's KronNewton refits
 * every step by default (preconditioner_update_probability 1).
 *
 *   nice -n 10 npx tsx bench/psgd-hessian-scale.ts [--fits 400] [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readConfig } from '../src/cli/config.js';
import { modelSpecOf, setupData } from '../src/cli/run-setup.js';
import { hvpPair } from '../src/curvature/hvp-pair.js';
import { initialParams, lossFunction } from '../src/nn/model.js';
import { buildModel } from '../src/nn/models/registry.js';
import { tensorLayoutOf } from '../src/nn/tensor-layout.js';
import { scaleByPsgdKron, type PsgdKronState } from '../src/optim/index.js';
import { valueAndGrad } from '../src/tensor/autodiff.js';
import { setFiniteChecks } from '../src/tensor/index.js';
import { Tensor } from '../src/tensor/tensor.js';

const { values } = parseArgs({ options: { fits: { type: 'string' }, json: { type: 'string' } } });
const fits = Number(values.fits ?? 400);
if (!Number.isSafeInteger(fits) || fits < 1)
  throw new Error(`--fits must be a positive integer, got ${values.fits}`);
setFiniteChecks(false);
const config = readConfig('config/gpt-reference-psgd-hessian.json');
const data = setupData(config);
const model = buildModel(modelSpecOf(config, data));
const layout = tensorLayoutOf(model);
const theta = initialParams(model, config.seed) as Float32Array;
const batch = data.batchAt(0);
const f = lossFunction(model, { data: batch.inputs, shape: batch.inputShape }, batch.targets as Int32Array);
const g = valueAndGrad(f)(new Tensor(theta, [theta.length]))[1].data as Float32Array;
const flat = new Tensor(theta, [theta.length]);

const tx = scaleByPsgdKron({ mode: 'hessian' });
let state = tx.init(theta, layout);
const rms = (a: Float32Array, o: number, n: number) => {
  let s = 0;
  for (let i = o; i < o + n; i++) s += a[i] * a[i];
  return Math.sqrt(s / n);
};
const report = new Set([1, 10, 25, 50, 100, 200, 400, 800, fits]);
const rows: { fits: number; gains: Record<string, number> }[] = [];
for (let k = 1; k <= fits; k++) {
  const pair = hvpPair(f, flat, { seed: config.seed, step: k });
  const [u, next] = tx.update(g, state, theta, {
    hessianPair: { v: pair.v as Float32Array, hv: pair.hv as Float32Array },
  });
  state = next as PsgdKronState;
  if (report.has(k)) {
    const gains = Object.fromEntries(
      layout.map((s) => [s.name, rms(u, s.offset, s.size) / rms(g, s.offset, s.size)]),
    );
    rows.push({ fits: k, gains });
    const all = rms(u, 0, u.length) / rms(g, 0, g.length);
    console.log(
      `fits ${k}: overall ${all.toExponential(2)}; ` +
        layout
          .filter((s) => s.role !== 'vector')
          .map((s) => `${s.name.replace('transformer.', '')} ${gains[s.name].toExponential(2)}`)
          .join(', '),
    );
  }
}
if (values.json) writeFileSync(values.json, JSON.stringify({ config: config.name, rows }, null, 1) + '\n');
