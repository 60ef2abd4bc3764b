import { mfac } from '../optim/mfac.js';
import type { OptimizerEntry } from './entry.js';
import { integer, num } from './hyper.js';

export const mfacEntry: OptimizerEntry = {
  name: 'mfac',
  label: 'M-FAC',
  cliName: 'mfac',
  aliases: ['m-fac'],
  summary:
    'matrix-free inverse empirical Fisher over a sliding window of the last m gradients (IST-DASLab/M-FAC)',
  hyperparameters: {
    m: integer(1, 'window: gradients kept (official default 1024; memory m·d floats)'),
    damp: num('damp', 'damping δ of F = δI + (1/m)Σgᵢgᵢᵀ (default 1e-5)'),
    momentum: num('momentum', 'momentum of the preconditioned direction (default 0)'),
    weightDecay: num('weightDecay', 'L2 term added to the gradient before the window (default 0)'),
  },
  curvature: { estimators: [], required: false },
  needsLayout: false,
  scaling: 'sqrt',
  presets: {
    // The official defaults with a window that fits these models' memory; not tuned by a sweep.
    mlp: { optimizer: { name: 'mfac', lr: 1e-3, m: 32 } },
    gpt: { optimizer: { name: 'mfac', lr: 1e-3, m: 32, weightDecay: 0 } },
  },
  // M-FAC's weight decay is an L2 term, as SGD's: no decoupled mask.
  build: ({ hyper, lr }) => mfac({ ...hyper, lr }),
  preconditioner: () =>
    "M-FAC's preconditioner is a dense low-rank inverse Fisher, not a diagonal: no diagonal form to read",
};
