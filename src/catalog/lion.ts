import { lion } from '../optim/lion.js';
import type { OptimizerEntry } from './entry.js';
import { num, weightDecay } from './hyper.js';

export const lionEntry: OptimizerEntry = {
  name: 'lion',
  label: 'Lion',
  cliName: 'lion',
  summary: 'sign of an interpolated momentum (Chen et al., "Symbolic Discovery of Optimization Algorithms")',
  hyperparameters: {
    b1: num('b1', 'interpolation of the update (default 0.9)'),
    b2: num('b2', 'momentum decay (default 0.99)'),
    weightDecay: weightDecay(0),
  },
  curvature: { estimators: [], required: false },
  needsLayout: false,
  scaling: 'sqrt',
  presets: {
    mlp: { optimizer: { name: 'lion', lr: 1e-4, weightDecay: 0 } },
    gpt: { optimizer: { name: 'lion', lr: 0.002, b1: 0.9, b2: 0.99, weightDecay: 0.5 } },
  },
  build: ({ hyper, lr, decayMask }) => lion({ ...hyper, lr, ...(decayMask ? { mask: decayMask } : {}) }),
  preconditioner: () =>
    "Lion's step is lr·sign(·) per coordinate whatever the curvature: no preconditioned form",
};
