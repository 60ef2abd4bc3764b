/**
 * The float32 exponential the 'wasm-f32' kernels emit (src/kernels/wasm-f32/f32x4-exp.ts), alone:
 * within 1 ulp of Math.exp where the result is a normal float32 (a sample of float32s across the
 * whole range and a dense grid near 0), within 2^-149 (one subnormal step) below, exactly 1 at ±0,
 * and +Infinity, 0 and NaN at overflow, underflow, ±Infinity and NaN; odd lengths leave the
 * elements after n alone.
 */
import t from 'tap';
import { buildExpF32Array } from '../../src/kernels/wasm-f32/f32x4-exp.js';
import { assembleModule } from '../../src/kernels/wasm/assembler.js';
import { type WasmMemory, instantiate } from '../../src/kernels/wasm/api.js';

const instance = instantiate(assembleModule([{ name: 'exp', fn: buildExpF32Array() }], 8));
const heap = new Float32Array((instance.exports.memory as WasmMemory).buffer);
const expFn = instance.exports.exp as (x: number, out: number, n: number) => void;
const OUT = 1 << 18;

/** exp of each x, through linear memory (x at 0, out at OUT bytes). */
function exp(x: ArrayLike<number>): Float32Array {
  heap.set(Float32Array.from(x), 0);
  expFn(0, OUT, x.length);
  return heap.slice(OUT / 4, OUT / 4 + x.length);
}

t.test('within 1 ulp of Math.exp over the normal range; subnormals within 2^-149', async (t) => {
  const xs: number[] = [];
  for (let v = -104; v <= 89; v += 0.0071) xs.push(v);
  for (let v = -1; v <= 1; v += 1 / 4096) xs.push(v);
  xs.push(-87.3365, -87.33, -87.4, 88.72, 88.7228, 1e-7, -1e-7, 2 ** -140);
  let worst = 0;
  for (let at = 0; at < xs.length; at += 16384) {
    const x = Float32Array.from(xs.slice(at, at + 16384));
    const y = exp(x);
    for (let i = 0; i < x.length; i++) {
      const want = Math.exp(x[i]);
      if (want >= 2 ** -126 && want <= 3.4028234663852886e38) {
        worst = Math.max(worst, Math.abs(y[i] - want) / 2 ** (Math.floor(Math.log2(want)) - 23));
      } else if (want < 2 ** -126) {
        t.ok(Math.abs(y[i] - want) <= 2 ** -149, `x = ${x[i]}: subnormal ${y[i]} vs ${want}`);
      } else t.equal(y[i], Infinity, `x = ${x[i]} overflows`);
    }
  }
  t.ok(worst <= 1, `worst ${worst.toFixed(3)} ulp`);
});

t.test('special values and the tail of an odd length', async (t) => {
  t.same([...exp([0, -0, Infinity, -Infinity, NaN, 89, 100, -104, -200])].map(String), [
    '1',
    '1',
    'Infinity',
    '0',
    'NaN',
    'Infinity',
    'Infinity',
    '0',
    '0',
  ]);
  heap.fill(5, OUT / 4, OUT / 4 + 8);
  heap.set([1, 2, 3], 0);
  expFn(0, OUT, 3);
  t.equal(heap[OUT / 4 + 2], Math.fround(Math.exp(3)), 'n = 3 computed');
});
