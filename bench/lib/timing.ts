/**
 * Timing for a noisy, shared machine: alternatives are measured interleaved (one sample of each per
 * round, so drifts in load hit all of them alike), after warm-up, and summarised by the median.
 */

export interface Samples {
  /** Wall-clock milliseconds per call, one entry per round. */
  readonly ms: number[];
  readonly median: number;
  readonly min: number;
  /**
   * Median process CPU time (user + system) per call, in ms. On a loaded machine it leaves out the
   * time the process waited for a core, so it is close to what an idle machine shows (it includes
   * V8's helper threads, e.g. concurrent GC, so it can exceed wall time on an idle machine).
   */
  readonly cpuMedian: number;
  /** Process CPU milliseconds per call, one entry per round (as `ms`). */
  readonly cpu: number[];
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

export interface InterleaveOptions {
  /** Untimed calls of each alternative before measuring (JIT tier-up, memory growth). */
  readonly warmup: number;
  /** Timed rounds; each round takes one sample of every alternative. */
  readonly rounds: number;
  /**
   * Each sample repeats the call until at least this many milliseconds have passed (calibrated in
   * warm-up), so sub-millisecond calls are not lost in timer resolution. Default 0: one call.
   */
  readonly minSampleMs?: number;
}

/** Times every alternative in interleaved rounds and returns per-alternative samples. */
export function interleave(
  alternatives: Readonly<Record<string, () => void>>,
  options: InterleaveOptions,
): Record<string, Samples> {
  const names = Object.keys(alternatives);
  const repeats = new Map<string, number>();
  for (const name of names) {
    const fn = alternatives[name];
    let single = Infinity;
    for (let i = 0; i < options.warmup; i++) {
      const t0 = performance.now();
      fn();
      single = Math.min(single, performance.now() - t0);
    }
    const min = options.minSampleMs ?? 0;
    repeats.set(
      name,
      min > 0 && single < min ? Math.min(10_000, Math.ceil(min / Math.max(single, 1e-3))) : 1,
    );
  }
  const ms = new Map<string, number[]>(names.map((n) => [n, []]));
  const cpu = new Map<string, number[]>(names.map((n) => [n, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (const name of names) {
      const fn = alternatives[name];
      const times = repeats.get(name)!;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < times; i++) fn();
      const wall = performance.now() - t0;
      const c = process.cpuUsage(c0);
      ms.get(name)!.push(wall / times);
      cpu.get(name)!.push((c.user + c.system) / 1000 / times);
    }
  }
  const out: Record<string, Samples> = {};
  for (const name of names) {
    const xs = ms.get(name)!;
    const cs = cpu.get(name)!;
    out[name] = { ms: xs, median: median(xs), min: Math.min(...xs), cpuMedian: median(cs), cpu: cs };
  }
  return out;
}

/**
 * The median over rounds of a[r] / b[r]: on a machine whose speed changes from minute to minute, the
 * ratio within each round (taken seconds apart) is steadier than the ratio of the two medians.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`pairedRatio: ${a.length} rounds against ${b.length}`);
  return median(a.map((x, i) => x / b[i]));
}
