import { sophiaG } from '../optim/sophia-g.js';
import { diagonal, findState, type OptimizerEntry } from './entry.js';
import { bool, num, weightDecay } from './hyper.js';

export const sophiaGEntry: OptimizerEntry = {
  name: 'sophiaG',
  label: 'Sophia-G',
  cliName: 'sophia-g',
  aliases: ['sophiag', 'sophia_g'],
  summary:
    'Sophia with the Gauss-Newton-Bartlett diagonal, clipped element-wise (official Liuhong99/Sophia semantics)',
  hyperparameters: {
    b1: num('b1', 'momentum decay (default 0.965)'),
    b2: num('b2', 'curvature EMA decay (default 0.99)'),
    rho: num('rho', 'clip scale ρ (default 0.04); unused with winRateTarget'),
    biasCorrection: bool('divide h by 1 − β2ⁿ after n estimates (default false, as official)'),
    winRateTarget: num('winRateTarget', "each tensor's ρ set so this fraction is unclipped (default unset)"),
    weightDecay: weightDecay(0.1),
  },
  curvature: {
    estimators: ['gnb'],
    required: true,
    example: { estimator: 'gnb', every: 10 },
  },
  needsLayout: false,
  scaling: 'sqrt',
  presets: {
    mlp: {
      optimizer: { name: 'sophiaG', lr: 1e-3, rho: 0.04, weightDecay: 0 },
      curvature: { estimator: 'gnb', every: 10 },
    },
    // config/gpt-reference-sophiag-wr.json: the preset that measured best in the equal-budget sweep.
    gpt: {
      optimizer: { name: 'sophiaG', lr: 0.012, b1: 0.9, b2: 0.99, winRateTarget: 0.9, weightDecay: 0.2 },
      curvature: { estimator: 'gnb', every: 10, first: 0 },
    },
  },
  build({ hyper, lr, decayMask, model }) {
    const common = { ...hyper, lr, ...(decayMask ? { mask: decayMask } : {}) };
    // A win-rate target gives every parameter tensor its own ρ.
    if (hyper.winRateTarget === undefined) return sophiaG(common);
    const groups = model.layout.entries.map((e) => [e.offset, e.offset + e.size] as const);
    return sophiaG({ ...common, groups });
  },
  preconditioner({ state, num: get, predictionsPerBatch }) {
    const s = findState(state, ['m', 'h', 'count', 'stats']);
    if (!s) return 'no Sophia state in the saved optimizer state';
    const h = s.h as Float32Array;
    const m = s.m as Float32Array;
    const scale = get('rho', 0.04) * predictionsPerBatch;
    // sign(m)·min(|m|/(ρ·bs·h), 1) = m / max(ρ·bs·h, |m|): the clip is part of the preconditioner.
    return {
      diag: diagonal(h.length, (i) => Math.max(scale * h[i] + 1e-15, Math.abs(m[i]))),
      beta1: get('b1', 0.965),
      description: `Sophia-G: P = max(ρ·bs·h, |m|) with bs = ${predictionsPerBatch} (the clip folded in)`,
    };
  },
};
