/**
 * Microseconds per call of the LayerNorm kernels on the char-GPT's shape ([2048, 64] float32): the
 * float32 'wasm-f32' backends against the exact ones ('wasm' for layerNorm and layerNormVjp, the CPU
 * reference for normalize, which has no exact wasm backend), interleaved rounds (bench/lib/timing.ts),
 * medians of wall and process CPU time, copies in and out included, with the paired ratio per round
 * and the load average at start and end. Run: `npx tsx bench/layer-norm-f32.ts [rounds]` (default 40).
 */
import { loadavg } from 'node:os';
import { kernelFor } from '../src/kernels/index.js';
import { normals } from '../test/helpers/random.js';
import { interleave, pairedRatio } from './lib/timing.js';

const rounds = Number(process.argv[2] ?? 40);
const [rows, cols] = [2048, 64];
const n = rows * cols;
const x = Float32Array.from(normals(n, 1, 'x'), (v) => 2 * v + 0.5);
const gain = Float32Array.from(normals(cols, 1, 'gain'), (v) => 1 + 0.1 * v);
const bias = Float32Array.from(normals(cols, 1, 'bias'));
const g = Float32Array.from(normals(n, 1, 'g'));
const [y, xhat, dx, xhat2] = [n, n, n, n].map((k) => new Float32Array(k));
const [rstd, rstd2] = [rows, rows].map((k) => new Float32Array(k));
const [dgain, dbias] = [cols, cols].map((k) => new Float32Array(k));
kernelFor('layerNorm', 'cpu')!(x, rows, cols, 1e-5, gain, bias, y, xhat, rstd);

const calls: Record<string, (backend: string) => () => void> = {
  layerNorm: (b) => {
    const k = kernelFor('layerNorm', b)!;
    return () => k(x, rows, cols, 1e-5, gain, bias, y, xhat2, rstd2);
  },
  layerNormVjp: (b) => {
    const k = kernelFor('layerNormVjp', b)!;
    return () => k(g, xhat, rstd, gain, rows, cols, dx, dgain, dbias);
  },
  normalize: (b) => {
    const k = kernelFor('normalize', b)!;
    return () => k(x, rows, cols, 1e-5, xhat2, rstd2);
  },
};
const exact: Record<string, string> = { layerNorm: 'wasm', layerNormVjp: 'wasm', normalize: 'cpu' };

const load = [loadavg()[0]];
const out: Record<string, unknown> = {};
for (const name of Object.keys(calls)) {
  const s = interleave(
    { exact: calls[name](exact[name]), f32: calls[name]('wasm-f32') },
    { warmup: 30, rounds, minSampleMs: 5 },
  );
  out[name] = {
    exactBackend: exact[name],
    exactUs: +(s.exact.median * 1000).toFixed(1),
    f32Us: +(s.f32.median * 1000).toFixed(1),
    exactCpuUs: +(s.exact.cpuMedian * 1000).toFixed(1),
    f32CpuUs: +(s.f32.cpuMedian * 1000).toFixed(1),
    speedup: +pairedRatio(s.exact.ms, s.f32.ms).toFixed(2),
  };
}
load.push(loadavg()[0]);
console.log(JSON.stringify({ shape: [rows, cols], rounds, load1: load, ...out }, null, 1));
