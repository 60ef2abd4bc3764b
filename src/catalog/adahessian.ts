import type { Model } from '../nn/model.js';
import { adahessian } from '../optim/adahessian.js';
import type { HessianBlock } from '../optim/hessian-blocks.js';
import { diagonal, findState, type OptimizerEntry } from './entry.js';
import { num, weightDecay } from './hyper.js';

/** AdaHessian's averaging blocks from the layout: dense [out, in] tensors and vectors. */
export function hessianBlocks(model: Model, blockLength?: number): HessianBlock[] {
  return model.layout.entries.map((e) =>
    e.shape.length === 2
      ? { offset: e.offset, shape: [...e.shape], kind: 'dense', ...(blockLength ? { blockLength } : {}) }
      : { offset: e.offset, shape: [e.size], kind: 'vector' },
  );
}

export const adahessianEntry: OptimizerEntry = {
  name: 'adahessian',
  label: 'AdaHessian',
  cliName: 'adahessian',
  summary: 'Adam with the block-averaged Hutchinson diagonal |z⊙Hz| as second moment (official semantics)',
  hyperparameters: {
    b1: num('b1', 'first-moment decay (default 0.9)'),
    b2: num('b2', 'second-moment decay (default 0.999)'),
    eps: num('eps', 'added to the denominator (default 1e-4)'),
    hessianPower: num('hessianPower', 'k in (√v̂)^k (default 1)'),
    weightDecay: weightDecay(0),
    blockLength: num(
      'blockLength',
      'averaging block of a dense row: -1 = the whole row (default: per element)',
    ),
  },
  curvature: {
    estimators: ['hutchinson'],
    required: true,
    example: { estimator: 'hutchinson', every: 1, first: 0 },
    check(c) {
      const problems: [string, string][] = [];
      if (c.first !== undefined && c.first !== 0)
        problems.push(['first', `adahessian needs an estimate on the first step: must be 0, got ${c.first}`]);
      if (c.staleness) problems.push(['staleness', `adahessian needs staleness 0, got ${c.staleness}`]);
      return problems;
    },
  },
  needsLayout: false,
  scaling: 'sqrt',
  presets: {
    // Hutchinson every step (as the official optimizer), |ĥ| averaged over each dense row.
    mlp: {
      optimizer: { name: 'adahessian', lr: 0.05, weightDecay: 0, blockLength: -1 },
      curvature: { estimator: 'hutchinson', every: 1, first: 0 },
    },
    gpt: {
      optimizer: { name: 'adahessian', lr: 0.03, b1: 0.9, b2: 0.999, weightDecay: 0.1, blockLength: -1 },
      curvature: { estimator: 'hutchinson', every: 1, first: 0 },
    },
  },
  build({ hyper, lr, decayMask, model }) {
    const { blockLength, ...rest } = hyper;
    return adahessian({
      ...rest,
      lr,
      ...(decayMask ? { mask: decayMask } : {}),
      blocks: hessianBlocks(model, typeof blockLength === 'number' ? blockLength : undefined),
    });
  },
  preconditioner({ state, num: get }) {
    const s = findState(state, ['m', 'v', 'diag', 'count']);
    if (!s) return 'no AdaHessian state in the saved optimizer state';
    const v = s.v as Float32Array;
    const bc2 = 1 - get('b2', 0.999) ** (s.count as number);
    const k = get('hessianPower', 1);
    const eps = get('eps', 1e-4);
    return {
      diag: diagonal(v.length, (i) => Math.sqrt(v[i] / bc2) ** k + eps),
      beta1: get('b1', 0.9),
      description: 'AdaHessian: P = (√v̂)^k + ε',
    };
  },
};
