import { adamw } from '../optim/adam.js';
import { diagonal, findState, type OptimizerEntry } from './entry.js';
import { num, weightDecay } from './hyper.js';

export const adamwEntry: OptimizerEntry = {
  name: 'adamw',
  label: 'AdamW',
  cliName: 'adamw',
  summary: 'Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch defaults',
  hyperparameters: {
    b1: num('b1', 'first-moment decay (default 0.9)'),
    b2: num('b2', 'second-moment decay (default 0.999)'),
    eps: num('eps', 'added to √v̂ (default 1e-8)'),
    weightDecay: weightDecay(0.01),
  },
  curvature: { estimators: [], required: false },
  needsLayout: false,
  scaling: 'sqrt',
  presets: {
    mlp: { optimizer: { name: 'adamw', lr: 1e-3, weightDecay: 0 } },
    // The tuned rate of the equal-budget sweep (bench/plans/gpt-reference.json).
    gpt: { optimizer: { name: 'adamw', lr: 0.016, b1: 0.9, b2: 0.95, weightDecay: 0.1 } },
  },
  build: ({ hyper, lr, decayMask }) => adamw({ ...hyper, lr, ...(decayMask ? { mask: decayMask } : {}) }),
  preconditioner({ state, num: get }) {
    const s = findState(state, ['mu', 'nu', 'count']);
    if (!s) return 'no Adam moments in the saved optimizer state';
    const nu = s.nu as Float32Array;
    const bc2 = 1 - get('b2', 0.999) ** (s.count as number);
    const eps = get('eps', 1e-8);
    return {
      diag: diagonal(nu.length, (i) => Math.sqrt(nu[i] / bc2) + eps),
      beta1: get('b1', 0.9),
      description: 'Adam: P = √v̂ + ε',
    };
  },
};
