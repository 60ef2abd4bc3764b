/**
 * Gauss-Newton-Bartlett diagonal (Sophia-G's estimator, as in the official Sophia training loop):
 * sample labels ŷ from the model's own softmax on the batch, take the gradient ĝ of the mean
 * cross-entropy against ŷ, and return ĝ ⊙ ĝ. In expectation B·ĝ⊙ĝ is the Gauss-Newton diagonal
 * (B = predictions in the batch), which is why Sophia-G scales it by ρ·bs. Needs one forward and
 * one backward pass, no HVP.
 */
import { crossEntropy } from '../tensor/functional.js';
import { gradients } from '../tensor/autodiff.js';
import { withGradMode } from '../tensor/graph.js';
import { withScratch } from '../tensor/scratch.js';
import type { Tensor } from '../tensor/tensor.js';
import { rng } from '../random/counter-rng.js';
import type { Model, ModelInputs } from '../nn/model.js';

export interface GnbOptions {
  seed?: number;
  step?: number;
  /**
   * Return ĝ itself instead of ĝ⊙ĝ (the 'gnb-gradient' estimator): the sampled-label gradient keeps the
   * cross terms from which a matrix-aware optimizer builds Kronecker factors ĝĝᵀ (SOAP-Sophia).
   */
  unsquared?: boolean;
}

export interface GnbEstimate {
  diag: Float32Array | Float64Array;
  /** The sampled labels (for inspection and tests). */
  sampled: Int32Array;
}

/** Draws one label per prediction from softmax(logits) with counter-based uniforms. */
export function sampleLabels(logits: Tensor, classes: number, seed: number, step: number): Int32Array {
  const rows = logits.size / classes;
  const out = new Int32Array(rows);
  const l = logits.data;
  const r = rng(seed, 'gnb-labels', step);
  const p = new Float64Array(classes);
  for (let i = 0; i < rows; i++) {
    let m = -Infinity;
    for (let c = 0; c < classes; c++) m = Math.max(m, l[i * classes + c]);
    for (let c = 0; c < classes; c++) p[c] = Math.exp(l[i * classes + c] - m);
    out[i] = r.categorical(p);
  }
  return out;
}

export function gnbDiag(
  model: Model,
  params: Tensor,
  inputs: ModelInputs,
  options: GnbOptions = {},
): GnbEstimate {
  const leaf = params.requireGrad();
  // The passes' intermediates live in scratch memory; the diagonal is a fresh array.
  return withScratch(() =>
    withGradMode(true, () => {
      const logits = model.logits(model.layout.unflatten(leaf), inputs);
      const sampled = sampleLabels(logits, model.numClasses, options.seed ?? 0, options.step ?? 0);
      const [g] = gradients(crossEntropy(logits, sampled), [leaf]);
      const diag = g.data.slice();
      if (!options.unsquared) for (let i = 0; i < diag.length; i++) diag[i] *= diag[i];
      return { diag, sampled };
    }),
  );
}
