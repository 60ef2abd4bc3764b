import { z } from 'zod';
import { psgdKron } from '../optim/psgd-kron.js';
import type { HyperSpec, OptimizerEntry } from './entry.js';
import { integer, num, rule, weightDecay } from './hyper.js';

const COMMON: Record<string, HyperSpec> = {
  b1: num('b1', 'momentum of the gradient before preconditioning'),
  weightDecay: weightDecay(0),
  precondLr: rule(z.number().positive(), "the preconditioner's fitting step (default 0.1)"),
  precondInitScale: rule(
    z.number().positive(),
    'initial scale of the factors (default: whitening 1, hessian from the first pair)',
  ),
  maxSize: integer(1, 'dimensions above this get a diagonal factor (default 8192)'),
  memorySave: rule(
    z.enum(['none', 'smartOneDiag', 'oneDiag', 'allDiag']),
    'which factors are diagonal (default "none")',
    'string',
  ),
  lipschitzBeta: num('lipschitzBeta', "EMA of the fitting step's Lipschitz bound"),
  clipUpdateRms: rule(z.number().positive(), 'clip the update to this RMS per tensor'),
};

const noDiagonal = () =>
  "PSGD's preconditioner is a Kronecker product of triangular factors per tensor, not a diagonal: no diagonal form";

export const psgdEntry: OptimizerEntry = {
  name: 'psgdKron',
  label: 'PSGD-Kron (whitening)',
  cliName: 'psgd',
  aliases: ['psgd-kron', 'psgdkron'],
  summary:
    "Xi-Lin Li's PSGD with Kronecker factors fitted to the gradients (whitening mode, kron_torch's recipe)",
  hyperparameters: {
    ...COMMON,
    seed: integer(0, 'seed of its counter-based noise and refit draws (default 0)'),
  },
  curvature: { estimators: [], required: false },
  needsLayout: true,
  scaling: 'sqrt',
  presets: {
    // kron_torch's defaults (lr 3e-4; track 3 suggests 5e-4 to start); not tuned here.
    mlp: { optimizer: { name: 'psgdKron', lr: 1e-3 } },
    gpt: { optimizer: { name: 'psgdKron', lr: 1e-3, weightDecay: 0.1 } },
  },
  build: ({ hyper, lr, decayMask }) =>
    psgdKron({ ...hyper, mode: 'whitening', lr, ...(decayMask ? { mask: decayMask } : {}) }),
  preconditioner: noDiagonal,
};

export const psgdHessianEntry: OptimizerEntry = {
  name: 'psgdHessian',
  label: 'PSGD-Kron (Hessian)',
  cliName: 'psgd-hessian',
  summary:
    "Xi-Lin Li's PSGD with Kronecker factors fitted to exact Hessian-vector pairs (v, Hv) from the probe (psgd_torch's Hessian fitting)",
  hyperparameters: {
    ...COMMON,
    damping: rule(z.number().positive(), 'damping noise added to Hv (default 1e-9)'),
    seed: integer(0, 'seed of its counter-based noise (default 0)'),
  },
  curvature: {
    estimators: ['hvp-pair'],
    required: true,
    example: { estimator: 'hvp-pair', every: 10, first: 0 },
  },
  needsLayout: true,
  scaling: 'sqrt',
  presets: {
    mlp: {
      optimizer: { name: 'psgdHessian', lr: 0.01 },
      curvature: { estimator: 'hvp-pair', every: 10, first: 0 },
    },
    gpt: {
      optimizer: { name: 'psgdHessian', lr: 0.01, weightDecay: 0.1 },
      curvature: { estimator: 'hvp-pair', every: 10, first: 0 },
    },
  },
  build: ({ hyper, lr, decayMask }) =>
    psgdKron({ ...hyper, mode: 'hessian', lr, ...(decayMask ? { mask: decayMask } : {}) }),
  preconditioner: noDiagonal,
};
