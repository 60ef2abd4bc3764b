import { z } from 'zod';
import { tensorLayoutOf } from '../nn/tensor-layout.js';
import { auxAdamW, withAuxAdam, type AuxAdamOptions } from '../optim/aux-adam.js';
import { soapSophia } from '../optim/soap-sophia.js';
import { restrictToSlots } from '../optim/tensor-layout.js';
import { auxAdamHyperparameters, auxAdamLr } from './aux-adam.js';
import type { OptimizerEntry } from './entry.js';
import { bool, num, rule, weightDecay } from './hyper.js';
import { SOAP_BASIS_HYPERPARAMETERS } from './soap.js';

/**
 * hessflow's own curvature method: Sophia's clipped step in SOAP's eigenbasis, with the curvature and
 * (optionally) the Kronecker factors from GNB's sampled-label gradient ĝ — a Gauss–Newton / K-FAC-like
 * eigenbasis — delivered by the 'gnb-gradient' probe every k steps (concurrently, in the pipeline).
 */
export const soapSophiaEntry: OptimizerEntry = {
  name: 'soapSophia',
  label: 'SOAP-Sophia (GNB)',
  cliName: 'soap-sophia',
  aliases: ['soapsophia', 'soap_sophia'],
  summary:
    "Sophia's clipped step in the eigenbasis of Shampoo's factors, curvature (Q_Lᵀ ĝ Q_R)² from GNB's sampled-label gradient ĝ; per-tensor win-rate",
  hyperparameters: {
    b1: num('b1', 'momentum decay (default 0.965)'),
    b2: num('b2', 'curvature EMA decay (default 0.99)'),
    winRateTarget: num('winRateTarget', "each tensor's ρ set so this fraction is unclipped (default 0.9)"),
    nesterov: bool("clip Muon's Nesterov look-ahead β1·m' + (1−β1)·G' instead of m' (default false)"),
    weightDecay: weightDecay(0.1),
    ...SOAP_BASIS_HYPERPARAMETERS,
    // With adamLr, only hidden matrices take SOAP-Sophia; embeddings, the head and vectors take Muon's
    // auxiliary AdamW, so both methods treat the non-matrix tensors alike.
    ...auxAdamHyperparameters('unset by default: every tensor takes SOAP-Sophia'),
    factors: rule(
      z.enum(['gradient', 'curvature']),
      'what the Kronecker factors accumulate: the gradient ("gradient", default) or ĝ ("curvature", Gauss–Newton)',
      'string',
    ),
  },
  curvature: {
    estimators: ['gnb-gradient'],
    required: true,
    example: { estimator: 'gnb-gradient', every: 10, first: 0 },
  },
  needsLayout: true,
  scaling: 'sqrt',
  presets: {
    // Not tuned on the MLP; the char-GPT's from the reference sweep's tuning (bench/plans/gpt-reference.json),
    // Nesterov and no weight decay (as Muon's matrices) from the variants screened against Muon, each
    // re-tuned on the plan's grid (bench/readings/sweep-gpt-reference.md).
    mlp: {
      optimizer: { name: 'soapSophia', lr: 3e-3, b1: 0.9, weightDecay: 0 },
      curvature: { estimator: 'gnb-gradient', every: 10, first: 0 },
    },
    gpt: {
      optimizer: {
        name: 'soapSophia',
        lr: 0.006,
        b1: 0.9,
        b2: 0.99,
        nesterov: true,
        winRateTarget: 0.9,
        weightDecay: 0,
      },
      curvature: { estimator: 'gnb-gradient', every: 10, first: 0 },
    },
  },
  build({ hyper, lr, lrFactor, model, decayMask }) {
    const { adamLr: _, adamB1, adamB2, adamEps, adamWeightDecay, ...rest } = hyper;
    const adamLr = auxAdamLr(hyper, lr, lrFactor);
    const soapOf = (mask?: Uint8Array) =>
      soapSophia({ ...rest, lr, curvature: 'curvatureGradient', ...(mask ? { mask } : {}) });
    if (adamLr === undefined) return soapOf(decayMask);
    const adam = { adamLr, adamB1, adamB2, adamEps, adamWeightDecay } as AuxAdamOptions;
    return withAuxAdam('soapSophia', {
      name: 'soapSophia',
      // The matrices' group sees only their coordinates, so the decay mask is cut down to them.
      matrices: soapOf(
        decayMask && restrictToSlots(tensorLayoutOf(model), decayMask, (slot) => slot.role === 'matrix'),
      ),
      adam: auxAdamW('soapSophia', adam),
    });
  },
  preconditioner: () =>
    "SOAP-Sophia's preconditioner is diagonal only in each tensor's rotated eigenbasis: no diagonal form in the parameters' coordinates",
};
