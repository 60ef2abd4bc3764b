/**
 * Measures what Sophia-G's clip does on a run config, per kind of parameter: trains the config with the
 * synchronous Trainer and, at every evaluation, prints one NDJSON line with the validation loss, the mean
 * win-rate since the last line, and for each kind of tensor (embeddings, LayerNorm, attention, MLP) the
 * mean curvature EMA h and the fraction of coordinates the fixed-ρ rule leaves unclipped.
 *
 *   npx tsx bench/sophia-study.ts -c config/gpt-reference-sophiag.json [--set '{"optimizer":{"lr":0.004}}']
 *
 * `--set` is merged into the config (objects key by key) and the result validated like any config. The
 * per-kind win-rates use the config's fixed ρ, so they are only meaningful without `winRateTarget`.
 */
import { parseArgs } from 'node:util';
import { readConfig, validateConfig } from '../src/cli/config.js';
import { modelSpecOf, setupData, trainerFor } from '../src/cli/run-setup.js';
import { buildModel } from '../src/nn/models/registry.js';
import { findStats } from '../src/optim/index.js';
import { setFiniteChecks } from '../src/tensor/index.js';
import { evaluate } from '../src/train/evaluate.js';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(base: Json, patch: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(patch)) out[k] = isObject(v) && isObject(out[k]) ? merge(out[k], v) : v;
  return out;
}

/** Finds the Sophia member state (m, h) inside a chain state. */
function sophiaState(
  state: unknown,
): { m: Float32Array; h: Float32Array; hessianUpdates: number } | undefined {
  if (!Array.isArray(state)) return undefined;
  for (const s of state) {
    if (isObject(s) && s.m instanceof Float32Array && s.h instanceof Float32Array && isObject(s.stats))
      return { m: s.m, h: s.h, hessianUpdates: Number(s.stats.hessianUpdates) };
    const inner = sophiaState(s);
    if (inner) return inner;
  }
  return undefined;
}

function main(): void {
  const { values } = parseArgs({
    options: { config: { type: 'string', short: 'c' }, set: { type: 'string' } },
  });
  if (!values.config) throw new Error('sophia-study: -c <config> is required');
  const base = readConfig(values.config) as unknown as Json;
  const config = validateConfig(
    values.set ? merge(base, JSON.parse(values.set) as Json) : base,
    `${values.config} with --set`,
  );
  setFiniteChecks(false);
  const data = setupData(config);
  const model = buildModel(modelSpecOf(config, data));
  const kinds = new Map<string, [number, number][]>();
  for (const e of model.layout.entries) {
    const kind = e.tags.includes('embedding')
      ? 'embedding'
      : e.tags.includes('norm')
        ? 'norm'
        : e.name.includes('attn')
          ? 'attention'
          : 'mlp';
    kinds.set(kind, [...(kinds.get(kind) ?? []), [e.offset, e.offset + e.size]]);
  }
  const o = config.optimizer;
  const rho = typeof o.rho === 'number' ? o.rho : 0.04;
  const b2 = typeof o.b2 === 'number' ? o.b2 : 0.99;
  const trainer = trainerFor(config, data, model);
  let winSum = 0;
  let winCount = 0;
  while (!trainer.done()) {
    const m = trainer.step();
    const stats = findStats(trainer.state().optState);
    if (stats) {
      winSum += stats.winRate;
      winCount++;
    }
    const step = m.step + 1;
    if (step % config.evalEvery !== 0 && step !== config.steps) continue;
    const { loss } = evaluate(model, trainer.state().params, data.evalBatches);
    const perKind: Record<string, { h: number; winRate: number }> = {};
    const s = sophiaState(trainer.state().optState);
    if (s) {
      const correction = o.biasCorrection && s.hessianUpdates > 0 ? 1 / (1 - b2 ** s.hessianUpdates) : 1;
      const scale = rho * data.predictionsPerBatch * correction;
      for (const [kind, ranges] of kinds) {
        let n = 0;
        let hSum = 0;
        let unclipped = 0;
        for (const [a, b] of ranges)
          for (let i = a; i < b; i++) {
            n++;
            hSum += s.h[i] * correction;
            if (Math.abs(s.m[i]) / (scale * s.h[i] + 1e-15) < 1) unclipped++;
          }
        perKind[kind] = { h: hSum / n, winRate: unclipped / n };
      }
    }
    console.log(JSON.stringify({ step, loss, winRate: winCount ? winSum / winCount : null, perKind }));
    winSum = 0;
    winCount = 0;
  }
}

main();
