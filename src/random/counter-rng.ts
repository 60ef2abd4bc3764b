/**
 * Counter-based random numbers: every draw is a pure function of (seed, path, index).
 *
 * A `path` names the purpose of a stream — e.g. `['init', 'h.0.attn.weight']` or `['probe', step, shard]` —
 * so the numbers a computation sees never depend on scheduling order or on how many draws some other
 * part of the program made first. A resumed run therefore continues identically.
 *
 * The generator hashes the path into a 64-bit key (two 32-bit lanes) and maps counters through
 * murmur3's 32-bit finaliser, keyed twice. This is not cryptographic; it passes the statistical checks
 * that matter for initialisation, shuffling and Rademacher probes (tested in test/random).
 */

export type PathPart = string | number;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mixString(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = fmix32(h ^ Math.imul(s.charCodeAt(i) + 0x9e3779b9, 0x01000193));
  return fmix32(h ^ s.length);
}

function mixNumber(h: number, n: number): number {
  if (!Number.isSafeInteger(n))
    throw new RangeError(`random path part must be a safe integer or string, got ${n}`);
  const lo = n >>> 0;
  const hi = Math.floor(n / 4294967296) >>> 0;
  return fmix32(fmix32(h ^ lo) ^ Math.imul(hi + 0x7f4a7c15, 0x9e3779b1));
}

/** Derives a stream key from a seed and a purpose path. */
function deriveKey(seed: number, path: readonly PathPart[]): [number, number] {
  let a = mixNumber(0x243f6a88, seed);
  let b = mixNumber(0x85a308d3, seed);
  for (const part of path) {
    a = typeof part === 'string' ? mixString(a, part) : mixNumber(a, part);
    b = typeof part === 'string' ? mixString(b ^ 0x5bd1e995, part) : mixNumber(b ^ 0x5bd1e995, part);
  }
  return [a, b];
}

const TWO_POW_32 = 4294967296;

/** A random stream. `at(i)` is pure; the sequential helpers advance an internal counter. */
export class CounterRng {
  private readonly k0: number;
  private readonly k1: number;
  private counter = 0;

  constructor(seed: number, path: readonly PathPart[] = []) {
    [this.k0, this.k1] = deriveKey(seed, path);
  }

  /** The i-th 32-bit unsigned integer of this stream. */
  at(i: number): number {
    const lo = i >>> 0;
    const hi = Math.floor(i / TWO_POW_32) >>> 0;
    return fmix32(fmix32(lo ^ this.k0) ^ Math.imul(hi + this.k1, 0x9e3779b1) ^ this.k1);
  }

  nextUint32(): number {
    return this.at(this.counter++);
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Standard normal (Box–Muller; one value per call, no cached pair, so the stream stays counter-pure). */
  normal(): number {
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** +1 or −1 with equal probability. */
  rademacher(): number {
    return this.nextUint32() & 1 ? 1 : -1;
  }

  /** Uniform integer in [0, n). Rejection sampling keeps it unbiased. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32)
      throw new RangeError(`int(n) needs 1 <= n <= 2^32, got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** A draw from a categorical distribution given (unnormalised, non-negative) weights. */
  categorical(weights: ArrayLike<number>, offset = 0, length = weights.length - offset): number {
    let total = 0;
    for (let i = 0; i < length; i++) total += weights[offset + i];
    let r = this.uniform() * total;
    for (let i = 0; i < length; i++) {
      r -= weights[offset + i];
      if (r < 0) return i;
    }
    return length - 1;
  }

  fillUniform<T extends Float32Array | Float64Array>(out: T, lo = 0, hi = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  fillRademacher<T extends Float32Array | Float64Array>(out: T): T {
    for (let i = 0; i < out.length; i++) out[i] = this.rademacher();
    return out;
  }

  /** A permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

/** A fresh stream for `(seed, ...path)`. */
export function rng(seed: number, ...path: PathPart[]): CounterRng {
  return new CounterRng(seed, path);
}
