/**
 * Unigram reference numbers for a token stream, in nats. A language model that has learnt anything beyond
 * character frequencies must score a cross-entropy below these.
 */

function counts(tokens: ArrayLike<number>, vocabSize: number): Float64Array {
  const c = new Float64Array(vocabSize);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!(t >= 0 && t < vocabSize) || !Number.isInteger(t)) {
      throw new RangeError(`unigram: token ${t} at position ${i} outside [0, ${vocabSize})`);
    }
    c[t]++;
  }
  return c;
}

/** Entropy −Σ p log p of the empirical token distribution of `tokens`. */
export function unigramEntropy(tokens: ArrayLike<number>, vocabSize: number): number {
  const c = counts(tokens, vocabSize);
  const n = tokens.length;
  let h = 0;
  for (const k of c) if (k > 0) h -= (k / n) * Math.log(k / n);
  return h;
}

/**
 * Cross-entropy of `evalTokens` under the unigram distribution fitted on `fitTokens` with add-`alpha`
 * smoothing (so characters absent from the fit data cost a finite amount). This is the loss of the best
 * context-free model on held-out text — the honest bar for a validation loss.
 */
export function unigramCrossEntropy(
  fitTokens: ArrayLike<number>,
  evalTokens: ArrayLike<number>,
  vocabSize: number,
  alpha = 1,
): number {
  const c = counts(fitTokens, vocabSize);
  const denom = fitTokens.length + alpha * vocabSize;
  const e = counts(evalTokens, vocabSize);
  let h = 0;
  for (let t = 0; t < vocabSize; t++) if (e[t] > 0) h -= e[t] * Math.log((c[t] + alpha) / denom);
  return h / evalTokens.length;
}
