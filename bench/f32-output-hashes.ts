/**
 * A sha256 of every 'wasm-f32' kernel's outputs on fixed float32 inputs (Adam's and tanh's where registered) (a seeded generator, shapes of
 * the char-GPT's calls and odd widths, a few special values): run before and after a change to those
 * kernels' code generation that must not change a bit, and compare. Run:
 * `npx tsx bench/f32-output-hashes.ts`.
 */
import { createHash } from 'node:crypto';
import { kernelFor } from '../src/kernels/index.js';
import type { KernelName, KernelSignatures } from '../src/kernels/registry.js';

/** mulberry32: the same inputs on every run. */
function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 1e-30, -1e-30, 100, -100, 1e4, -1e4, 3.4e38];

/** n float32 values of scale `scale`, every 97th one a special value. */
function data(n: number, seed: number, scale: number, specials = true): Float32Array {
  const next = generator(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++)
    a[i] = specials && i % 97 === 13 ? SPECIAL[((i / 97) % SPECIAL.length) | 0] : (2 * next() - 1) * scale;
  return a;
}

function f32(name: KernelName): KernelSignatures[typeof name] {
  const k = kernelFor(name, 'wasm-f32');
  if (!k) throw new Error(`${name}: no 'wasm-f32' backend registered`);
  return k;
}

const lines: string[] = [];
function record(label: string, ...outs: (Float32Array | Float64Array)[]): void {
  const h = createHash('sha256');
  for (const o of outs) h.update(new Uint8Array(o.buffer, o.byteOffset, o.byteLength));
  lines.push(`${label.padEnd(44)} ${h.digest('hex').slice(0, 32)}`);
}

const gelu = f32('geluExp') as KernelSignatures['geluExp'];
const geluVjp = f32('geluVjp') as KernelSignatures['geluVjp'];
for (const n of [0, 1, 3, 5, 17, 1001, 524288]) {
  const x = data(n, n + 1, 6);
  const g = data(n, n + 2, 1, false);
  const out = new Float32Array(n);
  const e = new Float64Array(n);
  gelu(x, out, e);
  record(`geluExp n=${n}`, out, e);
  const dx = new Float32Array(n);
  geluVjp(x, g, dx, e);
  record(`geluVjp(saved e) n=${n}`, dx);
  geluVjp(x, g, dx);
  record(`geluVjp n=${n}`, dx);
}

const rowShapes: [number, number][] = [
  [1, 1],
  [3, 1],
  [2, 3],
  [5, 7],
  [4, 13],
  [7, 67],
  [2048, 64],
  [2048, 80],
  [8192, 64],
];
const softmax = f32('softmax') as KernelSignatures['softmax'];
const causal = f32('causalSoftmax') as KernelSignatures['causalSoftmax'];
const softmaxVjp = f32('softmaxVjp') as KernelSignatures['softmaxVjp'];
const logSoftmaxVjp = f32('logSoftmaxVjp') as KernelSignatures['logSoftmaxVjp'];
const layerNorm = f32('layerNorm') as KernelSignatures['layerNorm'];
const layerNormVjp = f32('layerNormVjp') as KernelSignatures['layerNormVjp'];
const normalize = f32('normalize') as KernelSignatures['normalize'];
for (const [rows, cols] of rowShapes) {
  const n = rows * cols;
  const x = data(n, 31 * rows + cols, 8);
  const g = data(n, 17 * rows + cols, 1, false);
  const y = new Float32Array(n);
  for (const log of [false, true]) {
    softmax(x, rows, cols, y, log);
    record(`softmax log=${log} [${rows}, ${cols}]`, y);
  }
  // causal blocks are [cols, cols]: rows a multiple of cols
  const cRows = Math.max(1, Math.floor(rows / cols)) * cols;
  const cy = new Float32Array(cRows * cols);
  causal(data(cRows * cols, 5 * cols, 8), cRows, cols, cy);
  record(`causalSoftmax [${cRows}, ${cols}]`, cy);
  const p = data(n, 7 * rows + cols, 8, false);
  softmax(p, rows, cols, y, false);
  const out = new Float32Array(n);
  softmaxVjp(y, g, rows, cols, out);
  record(`softmaxVjp [${rows}, ${cols}]`, out);
  softmax(p, rows, cols, y, true);
  logSoftmaxVjp(y, g, rows, cols, out);
  record(`logSoftmaxVjp [${rows}, ${cols}]`, out);
  const gain = data(cols, cols + 3, 2, false);
  const bias = data(cols, cols + 4, 1, false);
  const xhat = new Float32Array(n);
  const rstd = new Float32Array(rows);
  for (const eps of [1e-5, 0]) {
    normalize(x, rows, cols, eps, xhat, rstd);
    record(`normalize eps=${eps} [${rows}, ${cols}]`, xhat, rstd);
  }
  const lx = data(n, 11 * rows + cols, 3, false);
  layerNorm(lx, rows, cols, 1e-5, gain, bias, y, xhat, rstd);
  record(`layerNorm [${rows}, ${cols}]`, y, xhat, rstd);
  const dgain = new Float32Array(cols);
  const dbias = new Float32Array(cols);
  layerNormVjp(g, xhat, rstd, gain, rows, cols, out, dgain, dbias);
  record(`layerNormVjp [${rows}, ${cols}]`, out, dgain, dbias);
}
const adam = kernelFor('adamMoments', 'wasm-f32');
const unary = kernelFor('unary', 'wasm-f32');
for (const n of [1, 3, 5, 17, 1001, 269322]) {
  const x = data(n, 3 * n + 1, 4);
  const out = new Float32Array(n);
  if (unary) {
    unary('tanh')(x, out, 0);
    record(`unary tanh n=${n}`, out);
  }
  if (adam) {
    const g = data(n, 3 * n + 2, 1, false);
    const nu0 = data(n, 3 * n + 3, 1, false).map(Math.abs);
    const c = { b1: 0.9, b2: 0.999, bc1: 1 - 0.9 ** 3, bc2: 1 - 0.999 ** 3, eps: 1e-8, epsRoot: 0 };
    const r = adam(
      g,
      x.map((v) => v / 4),
      nu0,
      c,
    );
    record(`adamMoments n=${n}`, r.mu, r.nu, r.out);
  }
}
console.log(lines.join('\n'));
