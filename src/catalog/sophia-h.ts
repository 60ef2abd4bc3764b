import { sophiaH } from '../optim/sophia-h.js';
import { diagonal, findState, type OptimizerEntry } from './entry.js';
import { num, weightDecay } from './hyper.js';

export const sophiaHEntry: OptimizerEntry = {
  name: 'sophiaH',
  label: 'Sophia-H',
  cliName: 'sophia-h',
  aliases: ['sophiah', 'sophia_h'],
  summary: 'Sophia with the Hutchinson diagonal z⊙Hz (optax.contrib / levanter semantics)',
  hyperparameters: {
    b1: num('b1', 'momentum decay (default 0.965)'),
    b2: num('b2', 'curvature EMA decay (default 0.99)'),
    eps: num('eps', 'denominator floor (default 1e-12)'),
    gamma: num('gamma', 'curvature scale γ (default 0.01)'),
    clipThreshold: num('clipThreshold', 'element-wise clip (default 1)'),
    weightDecay: weightDecay(0),
  },
  curvature: {
    estimators: ['hutchinson'],
    required: true,
    example: { estimator: 'hutchinson', every: 10 },
  },
  needsLayout: false,
  scaling: 'sqrt',
  presets: {
    mlp: {
      optimizer: { name: 'sophiaH', lr: 1e-3, weightDecay: 0 },
      curvature: { estimator: 'hutchinson', every: 10 },
    },
    gpt: {
      optimizer: { name: 'sophiaH', lr: 0.004, b1: 0.965, b2: 0.99, gamma: 0.01, weightDecay: 0.2 },
      curvature: { estimator: 'hutchinson', every: 10 },
    },
  },
  build: ({ hyper, lr, decayMask }) => sophiaH({ ...hyper, lr, ...(decayMask ? { mask: decayMask } : {}) }),
  preconditioner({ state, num: get }) {
    const s = findState(state, ['m', 'h', 'count', 'stats']);
    if (!s) return 'no Sophia state in the saved optimizer state';
    const h = s.h as Float32Array;
    const m = s.m as Float32Array;
    const bc1 = 1 - get('b1', 0.965) ** Math.max(1, s.count as number);
    const gamma = get('gamma', 0.01);
    const eps = get('eps', 1e-12);
    const c = get('clipThreshold', 1);
    // clip(m̂/max(γh, ε), ±c) = m̂ / max(γh, ε, |m̂|/c): the clip is part of the preconditioner.
    return {
      diag: diagonal(h.length, (i) => Math.max(gamma * h[i], eps, Math.abs(m[i] / bc1) / c)),
      beta1: get('b1', 0.965),
      description: 'Sophia-H: P = max(γ·h, ε, |m̂|/c) (the clip folded in)',
    };
  },
};
