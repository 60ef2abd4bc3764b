/**
 * The float32 GELU kernels' (src/kernels/wasm-f32/gelu.ts) worst errors against the float64 formulas,
 * the measurements behind the bounds in that file's header and gelu-check.ts: every `stride`-th
 * float32 in [−12, 12] by bit pattern (stride 1 is every one; default 64), then 10⁶ random x up to
 * ±10⁴ (log-uniform magnitudes), then f32x4-exp.ts's exponential (its general form) alone against Math.exp over every
 * `stride`-th float32 in [−104, 89], in ulps where the result is normal. Run:
 * `npx tsx bench/f32-gelu-error.ts [stride]`.
 */
import { buildExpF32Array } from '../src/kernels/wasm-f32/f32x4-exp.js';
import { geluExpErrors, geluVjpError } from '../src/kernels/wasm-f32/gelu-check.js';
import { WasmF32Gelu } from '../src/kernels/wasm-f32/gelu.js';
import { assembleModule } from '../src/kernels/wasm/assembler.js';
import { type WasmMemory, instantiate } from '../src/kernels/wasm/api.js';

const stride = Number(process.argv[2] ?? 64);
const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
const kernels = new WasmF32Gelu();

/** Float32s from `lo` to `hi` (both finite, lo < 0 < hi), every stride-th bit pattern of each sign. */
function* floats(lo: number, hi: number): Generator<number> {
  for (const [sign, top] of [
    [0x80000000, lo],
    [0, hi],
  ] as const) {
    asFloat[0] = Math.abs(top);
    const last = bits[0];
    for (let b = 0; b <= last; b += stride) {
      bits[0] = b | sign;
      yield asFloat[0];
    }
  }
}

let worst = { out: 0, e: 0, vjp: 0, at: { out: 0, e: 0, vjp: 0 } };
function run(xs: Float32Array): void {
  const n = xs.length;
  const out = new Float32Array(n);
  const e = new Float64Array(n);
  const g = new Float32Array(n).fill(1);
  const d = new Float32Array(n);
  kernels.geluExp(xs, out, e);
  kernels.geluVjp(xs, g, d, e);
  const er = geluExpErrors(xs, out, e);
  const ev = geluVjpError(xs, g, d);
  if (er.out > worst.out) [worst.out, worst.at.out] = [er.out, xs[er.outAt]];
  if (er.e > worst.e) [worst.e, worst.at.e] = [er.e, xs[er.eAt]];
  if (ev.error > worst.vjp) [worst.vjp, worst.at.vjp] = [ev.error, xs[ev.at]];
}

function sweep(source: Iterable<number>): void {
  const batch = new Float32Array(1 << 16);
  let k = 0;
  for (const v of source) {
    batch[k++] = v;
    if (k === batch.length) {
      run(batch);
      k = 0;
    }
  }
  if (k > 0) run(batch.subarray(0, k));
}

sweep(floats(-12, 12));
console.log(`GELU over [-12, 12], stride ${stride}:`, JSON.stringify(worst));
worst = { out: 0, e: 0, vjp: 0, at: { out: 0, e: 0, vjp: 0 } };
let seed = 4242;
const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
sweep(Array.from({ length: 1e6 }, () => (next() < 0.5 ? -1 : 1) * 10 ** (8 * next() - 4)));
console.log('GELU, 1e6 random |x| in [1e-4, 1e4]:', JSON.stringify(worst));

// The exponential alone.
const f = buildExpF32Array();
const instance = instantiate(assembleModule([{ name: 'exp', fn: f }], 16));
const memory = instance.exports.memory as WasmMemory;
const expFn = instance.exports.exp as (x: number, out: number, n: number) => void;
const heap = new Float32Array(memory.buffer);
const N = 1 << 16;
let ulps = 0;
let ulpsAt = 0;
let k = 0;
/** A normal float32's unit in the last place at y's binade. */
const ulp = (y: number): number => 2 ** (Math.floor(Math.log2(y)) - 23);
const flush = (): void => {
  if (k > 0) expFn(0, 4 * N, k);
  for (let i = 0; i < k; i++) {
    const want = Math.exp(heap[i]);
    if (want < 2 ** -126 || want > 3.4e38) continue;
    const err = Math.abs(heap[N + i] - want) / ulp(want);
    if (err > ulps) [ulps, ulpsAt] = [err, heap[i]];
  }
  k = 0;
};
for (const x of floats(-104, 89)) {
  heap[k++] = x;
  if (k === N) flush();
}
flush();
console.log(`exp over [-104, 89], stride ${stride}: worst ${ulps.toFixed(5)} ulp at x = ${ulpsAt}`);
