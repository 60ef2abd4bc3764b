/**
 * The float32 tanh (src/kernels/wasm-f32/tanh.ts) against float64 Math.tanh on every non-negative
 * float32 bit pattern (0 to +Inf, and the NaNs above it), a million at a time; prints the worst error in
 * float32 ulps of tanh x and where. The kernel computes on |x| and copies x's sign onto the result, so
 * the negative half mirrors this one bit for bit. About a minute of CPU: run it by hand after touching
 * that file (`npx tsx bench/f32-tanh-exhaustive.ts`); the test suite checks a sample and each boundary.
 */
import { F32Tanh, f32Ulp } from '../src/kernels/wasm-f32/tanh.js';

const tanh = new F32Tanh();
const CHUNK = 1 << 20;
const bits = new Uint32Array(CHUNK);
const x = new Float32Array(bits.buffer);
const got = new Float32Array(CHUNK);
let worst = 0;
let worstAt = NaN;
let nanWrong = 0;
for (let start = 0; start < 2 ** 31; start += CHUNK) {
  for (let i = 0; i < CHUNK; i++) bits[i] = start + i;
  tanh.tanh(x, got, 0);
  for (let i = 0; i < CHUNK; i++) {
    const want = Math.tanh(x[i]);
    if (Number.isNaN(want)) {
      if (!Number.isNaN(got[i])) nanWrong++;
      continue;
    }
    const e = Math.abs(got[i] - want) / f32Ulp(want);
    if (!(e <= worst)) {
      worst = e;
      worstAt = x[i];
    }
  }
}
console.log(
  `every non-negative float32: worst ${worst.toFixed(4)} ulps at x = ${worstAt}; NaN inputs not NaN: ${nanWrong}`,
);
