/**
 * GELU's exact ('wasm') and float32 ('wasm-f32') backends timed side by side on the reference
 * char-GPT's shape (524,288 elements a call): geluExp, geluVjp from the saved exponentials and
 * geluVjp recomputing them. Calls cycle through 8 sets of operands (80 MB, past the L3 cache), so each
 * call reads and writes cold memory as in a training step; `--warm` uses one set. Rounds alternate
 * the backends (so load changes hit both alike); prints the median CPU µs per call over the rounds
 * and the ratio. Run: `nice -n 10 npx tsx bench/gelu-f32-times.ts [rounds] [--warm]`; note the load
 * average printed.
 */
import { loadavg } from 'node:os';
import { kernelFor } from '../src/kernels/index.js';
import type { KernelName, KernelSignatures } from '../src/kernels/registry.js';

const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 9);
const warm = process.argv.includes('--warm');
const n = 524288;
const reps = 16;
const cpuUs = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
let seed = 2718;
const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;

function backendOf<K extends KernelName>(name: K, backend: string): KernelSignatures[K] {
  const k = kernelFor(name, backend);
  if (!k) throw new Error(`kernel ${name} has no backend ${backend}`);
  return k;
}

const sets = Array.from({ length: warm ? 1 : 8 }, () => ({
  x: new Float32Array(n).map(() => 3 * next()),
  g: new Float32Array(n).map(() => next()),
  out: new Float32Array(n),
  e: new Float64Array(n),
  d: new Float32Array(n),
}));
type Set = (typeof sets)[number];

const backends = ['wasm', 'wasm-f32'];
const cases: Record<string, (backend: string) => (s: Set) => void> = {
  geluExp: (b) => {
    const k = backendOf('geluExp', b);
    return (s) => k(s.x, s.out, s.e);
  },
  'geluVjp (saved e)': (b) => {
    const k = backendOf('geluVjp', b);
    return (s) => k(s.x, s.g, s.d, s.e);
  },
  'geluVjp (no e)': (b) => {
    const k = backendOf('geluVjp', b);
    return (s) => k(s.x, s.g, s.d);
  },
};

console.log(
  `load average ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}; ${warm ? 'warm' : 'cold'} operands`,
);
// Each set's e from the exact forward first, so a VJP reads e as the step would.
for (const s of sets) backendOf('geluExp', 'wasm')(s.x, s.out, s.e);
for (const [label, make] of Object.entries(cases)) {
  const times = new Map<string, number[]>(backends.map((b) => [b, []]));
  const runs = new Map(backends.map((b) => [b, make(b)]));
  for (let r = 0; r < rounds + 1; r++) {
    for (const b of backends) {
      const run = runs.get(b)!;
      const t0 = cpuUs();
      for (let i = 0; i < reps; i++) run(sets[i % sets.length]);
      if (r > 0) times.get(b)!.push((cpuUs() - t0) / reps); // round 0 warms up
    }
  }
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];
  const [exact, f32] = backends.map((b) => median(times.get(b)!));
  console.log(
    `${label.padEnd(20)} wasm ${exact.toFixed(0).padStart(5)} µs  wasm-f32 ${f32.toFixed(0).padStart(5)} µs  ×${(exact / f32).toFixed(2)}`,
  );
}
console.log(
  `load average ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}`,
);
