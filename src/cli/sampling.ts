/**
 * The next-token distribution of sampling: softmax(logits / T) over the `topK` largest logits (the rest
 * get probability 0). Temperature 0 is the limit T → 0: all mass on the largest logit (the first one on
 * a tie), i.e. greedy decoding. Computed in float64 from the largest logit down, so no exp overflows.
 */
export interface SamplingOptions {
  /** ≥ 0; 0 picks the most likely token. */
  temperature: number;
  /** Keep only the k most likely tokens (default: all). */
  topK?: number;
}

export function checkSampling(o: SamplingOptions): void {
  if (!(o.temperature >= 0) || !Number.isFinite(o.temperature))
    throw new RangeError(`temperature must be a finite number >= 0, got ${o.temperature}`);
  if (o.topK !== undefined && (!Number.isInteger(o.topK) || o.topK < 1))
    throw new RangeError(`topK must be a positive integer, got ${o.topK}`);
}

/** Probabilities over the `logits.length` tokens (summing to 1). */
export function samplingDistribution(logits: ArrayLike<number>, o: SamplingOptions): Float64Array {
  checkSampling(o);
  const n = logits.length;
  const probs = new Float64Array(n);
  let best = 0;
  for (let j = 1; j < n; j++) if (logits[j] > logits[best]) best = j;
  if (o.temperature === 0 || o.topK === 1) {
    probs[best] = 1;
    return probs;
  }
  // The k-th largest logit is the cut; ties at the cut are broken by index (lower first), as a sort would.
  let keep: Uint8Array | undefined;
  if (o.topK !== undefined && o.topK < n) {
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => logits[b] - logits[a] || a - b);
    keep = new Uint8Array(n);
    for (let r = 0; r < o.topK; r++) keep[order[r]] = 1;
  }
  let sum = 0;
  for (let j = 0; j < n; j++) {
    if (keep && !keep[j]) continue;
    probs[j] = Math.exp((logits[j] - logits[best]) / o.temperature);
    sum += probs[j];
  }
  for (let j = 0; j < n; j++) probs[j] /= sum;
  return probs;
}

/** The token whose cumulative probability first exceeds u ∈ [0, 1); never one of probability 0. */
export function drawToken(probs: ArrayLike<number>, u: number): number {
  let r = u;
  let last = -1;
  for (let j = 0; j < probs.length; j++) {
    if (probs[j] <= 0) continue;
    last = j;
    r -= probs[j];
    if (r < 0) return j;
  }
  return last; // rounding left a sliver past the end: the last possible token
}
