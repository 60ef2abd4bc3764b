/**
 * Where the 'adamMoments' kernel's time goes at the MLP's 269,322 parameters: the exact wasm backend
 * and the float32 one, each with fresh result arrays (as the Trainer, which has no array pool, calls
 * it) and with reused ones (as the pipeline's coordinator, with its pool), beside one 1 MB copy into
 * and out of wasm memory and one fresh Float32Array. CPU µs per call, medians of 7 rounds of 100
 * calls. Run under a quiet machine: `npx tsx bench/f32-adam-parts.ts` (prints the load average).
 */
import { loadavg } from 'node:os';
import { adamConstants } from '../src/kernels/cpu/passes.js';
import type { AdamMomentsKernel } from '../src/kernels/registry.js';
import { F32Adam } from '../src/kernels/wasm-f32/adam.js';
import { WasmAdam } from '../src/kernels/wasm/adam.js';

const n = 269322;
const g = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e-3);
const mu = Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 1e-4);
const nu = Float32Array.from({ length: n }, (_, i) => (1 + Math.sin(3 * i)) * 1e-7);
const c = adamConstants(0.9, 0.999, 5, 1e-8, 0);
const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Median over 7 rounds of the CPU µs per call of `f` (after 20 warm-up calls). */
function time(f: () => void, reps = 100): number {
  for (let i = 0; i < 20; i++) f();
  const rounds: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = cpuUs();
    for (let i = 0; i < reps; i++) f();
    rounds.push((cpuUs() - t0) / reps);
  }
  return rounds.sort((a, b) => a - b)[3];
}

const exact = new WasmAdam();
const kernels: [string, AdamMomentsKernel][] = [
  ['exact wasm (float64)', (...a) => exact.moments(...a)!],
  ['wasm-f32', new F32Adam().kernel],
];
const pool = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
const scratch = new Float32Array(n + 64);
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const [label, k] of kernels) {
  let next = 0;
  const fresh = time(() => k(g, mu, nu, c));
  const reused = time(() => {
    next = 0;
    k(g, mu, nu, c, () => pool[next++]);
  });
  console.log(
    `${label.padEnd(22)} fresh arrays ${fresh.toFixed(0).padStart(5)} µs, reused arrays ${reused.toFixed(0).padStart(5)} µs`,
  );
}
console.log(`one 1 MB copy into wasm-sized memory: ${time(() => scratch.set(g, 16)).toFixed(1)} µs`);
console.log(`one 1 MB copy out: ${time(() => pool[0].set(scratch.subarray(16, 16 + n))).toFixed(1)} µs`);
console.log(`one fresh Float32Array(${n}): ${time(() => new Float32Array(n)).toFixed(1)} µs`);
