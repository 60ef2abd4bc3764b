import { sgd } from '../optim/sgd.js';
import type { OptimizerEntry } from './entry.js';
import { bool, num } from './hyper.js';

export const sgdEntry: OptimizerEntry = {
  name: 'sgd',
  label: 'SGD',
  cliName: 'sgd',
  summary: 'stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay',
  hyperparameters: {
    momentum: num('momentum', 'heavy-ball momentum in [0, 1) (default 0)'),
    nesterov: bool('Nesterov momentum (default false; needs momentum > 0)'),
    weightDecay: num('weightDecay', 'L2 term added to the gradient, torch semantics (default 0)'),
  },
  curvature: { estimators: [], required: false },
  needsLayout: false,
  scaling: 'linear',
  presets: {
    mlp: { optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 } },
    // Not tuned on the char-GPT: a conventional start (no sweep has run SGD there).
    gpt: { optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true } },
  },
  build: ({ hyper, lr, decayMask }) => sgd({ ...hyper, lr, ...(decayMask ? { mask: decayMask } : {}) }),
  preconditioner: () => 'SGD has no preconditioner (its own form is the momentum condition above)',
};
