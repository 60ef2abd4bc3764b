/**
 * The wasm tanh against the CPU reference (Math.tanh rounded to float32) on every one of the 2^32
 * float32 bit patterns, a million at a time; prints how many differ (NaN matches any NaN) and the
 * first few. Minutes of CPU: run it by hand after touching src/kernels/wasm/tanh.ts
 * (`npx tsx bench/tanh-exhaustive.ts`); the test suite checks a sample and every branch point.
 */
import { cpuUnary } from '../src/kernels/cpu/elementwise.js';
import { WasmTanh } from '../src/kernels/wasm/tanh.js';

const wasm = new WasmTanh();
const reference = cpuUnary('tanh');
const CHUNK = 1 << 20;
const bits = new Uint32Array(CHUNK);
const x = new Float32Array(bits.buffer);
const got = new Float32Array(CHUNK);
const want = new Float32Array(CHUNK);
const gotBits = new Uint32Array(got.buffer);
const wantBits = new Uint32Array(want.buffer);
let differ = 0;
for (let start = 0; start < 2 ** 32; start += CHUNK) {
  for (let i = 0; i < CHUNK; i++) bits[i] = start + i;
  wasm.tanh(x, got, 0);
  reference(x, want, 0);
  for (let i = 0; i < CHUNK; i++)
    if (gotBits[i] !== wantBits[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i])))
      if (differ++ < 10) console.log(`x = ${x[i]}: wasm ${got[i]}, reference ${want[i]}`);
}
console.log(`${differ} of 2^32 float32 inputs differ`);
