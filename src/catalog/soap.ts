import { z } from 'zod';
import { soap } from '../optim/soap.js';
import type { HyperSpec, OptimizerEntry } from './entry.js';
import { bool, integer, num, rule, weightDecay } from './hyper.js';

/** The basis options SOAP and SOAP-Sophia share (optim/soap.ts SoapBasisOptions). */
export const SOAP_BASIS_HYPERPARAMETERS: Record<string, HyperSpec> = {
  shampooBeta: num('shampooBeta', 'EMA rate of the Shampoo factors L = EMA(GGᵀ), R = EMA(GᵀG) (default: b2)'),
  preconditionFrequency: integer(1, 'refresh the eigenbases every this many steps (default 10)'),
  maxPrecondDim: integer(1, 'dimensions larger than this stay unrotated (default 10000)'),
  mergeDims: bool('one factor over all elements of a small 2-D tensor (default false)'),
  precondition1d: bool('rotate 1-D tensors too (default false: plain Adam for them)'),
};

export const soapEntry: OptimizerEntry = {
  name: 'soap',
  label: 'SOAP',
  cliName: 'soap',
  summary:
    "Adam in the eigenbasis of Shampoo's Kronecker factors, refreshed every k steps (Vyas et al., soap.py)",
  hyperparameters: {
    b1: num('b1', 'first-moment decay (default 0.95)'),
    b2: num('b2', 'second-moment decay (default 0.95)'),
    eps: num('eps', 'added to √v (default 1e-8)'),
    weightDecay: weightDecay(0.01),
    ...SOAP_BASIS_HYPERPARAMETERS,
    normalizeGrads: bool('divide the update by its RMS per tensor (default false)'),
    correctBias: bool("Adam's bias correction (default true)"),
    factors: rule(z.enum(['gradient']), 'what the factors accumulate: "gradient" (SOAP)'),
  },
  curvature: { estimators: [], required: false },
  needsLayout: true,
  scaling: 'sqrt',
  presets: {
    // soap.py's defaults (lr 3e-3, betas (0.95, 0.95), weight decay 0.01); not tuned by a sweep here.
    mlp: { optimizer: { name: 'soap', lr: 3e-3, weightDecay: 0 } },
    gpt: { optimizer: { name: 'soap', lr: 3e-3, b1: 0.95, b2: 0.95, weightDecay: 0.1 } },
  },
  build: ({ hyper, lr, decayMask }) => soap({ ...hyper, lr, ...(decayMask ? { mask: decayMask } : {}) }),
  preconditioner: () =>
    "SOAP's preconditioner is diagonal only in each tensor's rotated eigenbasis, not in the parameters' coordinates: no diagonal form",
};
