/**
 * The WebAssembly permute (the 'permute' kernel's wasm backend) against a naive index loop written
 * here: the attention head split and merge and their inverses, other permutations of random shapes
 * whose innermost run is or is not a whole number of 16-byte vectors (so both the wasm path and the
 * hand-off to the CPU reference are exercised), float32 and float64, outputs poisoned with NaN. The
 * registration self-check must reject a kernel that misplaces one element.
 */
import t, { type Test } from 'tap';
import { WasmPermute } from '../../src/kernels/wasm/permute.js';
import { permuteSelfCheck } from '../../src/kernels/wasm/exact-checks.js';
import type { PermuteKernel } from '../../src/kernels/registry.js';
import { ints } from '../helpers/random.js';

/** out[j] = x[i] where j is i's multi-index reordered by perm (output axis a is input axis perm[a]). */
function naivePermute(x: ArrayLike<number>, shape: number[], perm: number[]): Float64Array {
  const outShape = perm.map((p) => shape[p]);
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let j = 0;
    for (let a = 0; a < perm.length; a++) j = j * outShape[a] + idx[perm[a]];
    out[j] = x[i];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

function check(t: Test, kernel: PermuteKernel, shape: number[], perm: number[]): void {
  const n = shape.reduce((a, b) => a * b, 1);
  for (const Ctor of [Float32Array, Float64Array]) {
    const x = new Ctor(n).map((_, i) => i + 0.25);
    const out = new Ctor(n).fill(NaN);
    kernel(x, shape, perm, out);
    const want = naivePermute(x, shape, perm);
    let bad = 0;
    for (let i = 0; i < n; i++) if (!Object.is(out[i], want[i])) bad++;
    t.equal(bad, 0, `${Ctor.name} [${shape}] perm [${perm}]: every element in place`);
  }
}

t.test('attention head split and merge, and their inverses', async (t) => {
  const k = new WasmPermute().kernel;
  const [b, tt, h, hd] = [3, 7, 4, 16];
  check(t, k, [b, tt, 3, h, hd], [2, 0, 3, 1, 4]);
  check(t, k, [3, b, h, tt, hd], [1, 3, 0, 2, 4]);
  check(t, k, [b, h, tt, hd], [0, 2, 1, 3]);
  check(t, k, [b, tt, h, hd], [0, 2, 1, 3]);
});

t.test('random shapes and permutations, on and off the wasm path', async (t) => {
  const k = new WasmPermute().kernel;
  for (let seed = 0; seed < 40; seed++) {
    const rank = 2 + ints(1, 4, seed, 'rank')[0];
    // Innermost sizes 1..12: multiples of 4 (float32) and of 2 (float64) take the wasm path.
    const shape = Array.from(ints(rank, 6, seed, 'dims'), (d, i) => (i === rank - 1 ? 2 * d + 2 : d + 1));
    const keys = Array.from(ints(rank, 1000, seed, 'perm'));
    const perm = keys.map((_, i) => i).sort((a, b2) => keys[a] - keys[b2] || a - b2);
    check(t, k, shape, perm);
  }
});

t.test('the self-check passes the wasm kernel and rejects one that misplaces an element', async (t) => {
  const k = new WasmPermute().kernel;
  t.ok(permuteSelfCheck(k));
  const wrong: PermuteKernel = (x, shape, perm, out) => {
    k(x, shape, perm, out);
    if (out.length > 300) [out[100], out[101]] = [out[101], out[100]];
  };
  t.notOk(permuteSelfCheck(wrong));
});
