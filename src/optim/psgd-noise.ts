/**
 * Gaussian noise for PSGD-Kron's fits, drawn from the counter-based stream of (seed, ...path): element i
 * is a pure function of its index, so a run never depends on how its steps were scheduled. Box–Muller on
 * pairs with 32-bit uniforms, both outputs used: a quarter of CounterRng.fillNormal's hashing, for noise
 * that is redrawn for every parameter on every refit (109k draws a refit on the reference char-GPT).
 */
import { type PathPart, rng } from '../random/counter-rng.js';

export function fillGaussian(out: Float32Array, seed: number, ...path: PathPart[]): Float32Array {
  const r = rng(seed, ...path);
  for (let i = 0; i < out.length; i += 2) {
    // u1 in (0, 1], so the log is finite; u2 in [0, 1).
    const u1 = (r.at(i) + 1) / 4294967296;
    const u2 = r.at(i + 1) / 4294967296;
    const rad = Math.sqrt(-2 * Math.log(u1));
    out[i] = rad * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = rad * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
