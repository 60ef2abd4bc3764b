/**
 * The softmax family's exact ('wasm') and float32 ('wasm-f32') backends timed side by side on the
 * reference char-GPT's shapes: causal softmax and its VJP on [32·4·64, 64] attention scores,
 * log-softmax and its VJP on [2048, 80] logits. Rounds alternate the backends (so load changes hit
 * both alike); prints each backend's median CPU µs per call over the rounds and the ratio. With
 * `--fresh` each call writes a newly allocated output, as the tensor ops do: its first-touch page
 * faults then count in every backend's time, as they do in bench/kernel-times.ts. Run:
 * `nice -n 10 npx tsx bench/softmax-f32-times.ts [rounds] [--fresh]`; note the load average printed.
 */
import { loadavg } from 'node:os';
import { kernelBackends, kernelFor } from '../src/kernels/index.js';
import type { KernelName, KernelSignatures } from '../src/kernels/registry.js';

const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 15);
const reps = 10;
const cpuUs = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
let seed = 12345;
const next = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;

function backendOf<K extends KernelName>(name: K, backend: string): KernelSignatures[K] {
  const k = kernelFor(name, backend);
  if (!k) throw new Error(`kernel ${name} has no backend ${backend}`);
  return k;
}

const attention = [32 * 4 * 64, 64] as const;
const logits = [2048, 80] as const;
const scores = new Float32Array(attention[0] * attention[1]).map(() => next() * 4);
const probs = new Float32Array(scores.length);
backendOf('causalSoftmax', 'cpu')(scores, attention[0], attention[1], probs);
const gAtt = new Float32Array(scores.length).map(() => next());
const z = new Float32Array(logits[0] * logits[1]).map(() => next() * 6);
const logp = new Float32Array(z.length);
backendOf('softmax', 'cpu')(z, logits[0], logits[1], logp, true);
const gLog = new Float32Array(z.length).map(() => next() / logits[0]);
const outAtt = new Float32Array(scores.length);
const outLog = new Float32Array(z.length);

/** A fresh output per call, as the tensor ops allocate one (its pages are first written in the kernel). */
const fresh = process.argv.includes('--fresh');
const outFor = (reused: Float32Array): Float32Array => (fresh ? new Float32Array(reused.length) : reused);

const cases: Record<string, (backend: string) => () => void> = {
  'causalSoftmax [8192, 64]': (b) => {
    const k = backendOf('causalSoftmax', b);
    return () => k(scores, attention[0], attention[1], outFor(outAtt));
  },
  'softmaxVjp [8192, 64]': (b) => {
    const k = backendOf('softmaxVjp', b);
    return () => k(probs, gAtt, attention[0], attention[1], outFor(outAtt));
  },
  'log-softmax [2048, 80]': (b) => {
    const k = backendOf('softmax', b);
    return () => k(z, logits[0], logits[1], outFor(outLog), true);
  },
  'logSoftmaxVjp [2048, 80]': (b) => {
    const k = backendOf('logSoftmaxVjp', b);
    return () => k(logp, gLog, logits[0], logits[1], outFor(outLog));
  },
};

const backends = ['wasm', 'wasm-f32'].filter((b) => kernelBackends('softmax').includes(b));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `load average at start: ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}`,
);
for (const [label, make] of Object.entries(cases)) {
  const runs = backends.map((b) => make(b));
  const times = backends.map((): number[] => []);
  for (const run of runs) for (let i = 0; i < 3; i++) run(); // warm-up
  for (let r = 0; r < rounds; r++)
    runs.forEach((run, k) => {
      const t0 = cpuUs();
      for (let i = 0; i < reps; i++) run();
      times[k].push((cpuUs() - t0) / reps);
    });
  const med = times.map(median);
  const parts = backends.map((b, k) => `${b} ${med[k].toFixed(0)} µs`).join(', ');
  const ratio = med.length === 2 ? `, ${(med[0] / med[1]).toFixed(2)}× faster` : '';
  console.log(`${label.padEnd(26)} ${parts}${ratio}`);
}
console.log(
  `load average at end: ${loadavg()
    .map((v) => v.toFixed(2))
    .join(' ')}`,
);
