/**
 * The WebAssembly Adam moments kernel (src/kernels/wasm/adam.ts) against `adamMomentsLoop`, the
 * JavaScript loop of `scaleByAdam`: mu, nu and the update compared byte for byte over lengths around
 * the SIMD width (0 and 1 included), gradients from subnormal to huge with zeros of both signs and
 * non-finite values, eps 0 and eps_root > 0, early and late steps. `scaleByAdam` itself must give
 * the loop's trajectory, and the self-check must reject a kernel off in one element.
 */
import t from 'tap';
import { adamConstants, adamMomentsLoop } from '../../src/kernels/cpu/passes.js';
import { resetKernelBackend, useKernelBackend } from '../../src/kernels/index.js';
import { WasmAdam, adamSelfCheck } from '../../src/kernels/wasm/adam.js';
import { scaleByAdam } from '../../src/optim/adam.js';
import { normals, uniforms } from '../helpers/random.js';

const bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Gradients spread over float32's whole range, with specials (subnormal, huge, ±0) sprinkled in. */
function gradients(n: number, seed: number): Float32Array {
  const z = normals(n, seed, 'adam-wasm-g');
  const e = uniforms(n, -155, 130, seed, 'adam-wasm-e');
  const g = Float32Array.from(z, (v, i) => v * 2 ** e[i]);
  const specials = [0, -0, 1e-45, -1e-45, 1.2e-38, -5e-40, 3.4e38, -3e38, 1e-30, 65504];
  for (let i = 0; i < n; i += 3) g[i] = specials[(i / 3) % specials.length];
  return g;
}

function moments(n: number, seed: number): [Float32Array, Float32Array] {
  const mu0 = Float32Array.from(normals(n, seed, 'adam-wasm-mu'), (v, i) => v * 2 ** ((i % 40) - 20));
  const nu0 = Float32Array.from(normals(n, seed, 'adam-wasm-nu'), (v, i) => v * v * 2 ** ((i % 60) - 50));
  // Some zero, subnormal and negative-zero state, as an early step or a user-built state has.
  for (let i = 0; i < n; i += 7) {
    mu0[i] = i % 2 ? -0 : 1e-45;
    nu0[i] = i % 2 ? 0 : 1e-44;
  }
  return [mu0, nu0];
}

const LENGTHS = [0, 1, 2, 3, 4, 5, 7, 63, 64, 65, 257, 1000, 4099];
const SETTINGS: [string, number, number, number, number][] = [
  ['defaults', 0.9, 0.999, 1e-8, 0],
  ['eps 0', 0.9, 0.999, 0, 0],
  ['eps_root > 0', 0.9, 0.99, 1e-8, 1e-10],
  ['eps 0, eps_root > 0', 0.8, 0.95, 0, 1e-16],
  ['b1 0, b2 0', 0, 0, 1e-6, 0],
];
const COUNTS = [1, 2, 3, 10, 100, 1000, 12345, 1e6];

t.test('byte for byte the JavaScript loop', async (t) => {
  const w = new WasmAdam();
  let cases = 0;
  let bad = 0;
  for (const n of LENGTHS) {
    const g = gradients(n, n + 1);
    const [mu0, nu0] = moments(n, n + 2);
    for (const [, b1, b2, eps, epsRoot] of SETTINGS) {
      for (const count of COUNTS) {
        const c = adamConstants(b1, b2, count, eps, epsRoot);
        const want = [n, n, n].map((k) => new Float32Array(k).fill(NaN));
        adamMomentsLoop(g, mu0, nu0, want[0], want[1], want[2], c);
        const got = w.moments(g, mu0, nu0, c);
        if (!got) throw new Error('wasm memory did not grow');
        const ok =
          Buffer.compare(bytes(got.mu), bytes(want[0])) === 0 &&
          Buffer.compare(bytes(got.nu), bytes(want[1])) === 0 &&
          Buffer.compare(bytes(got.out), bytes(want[2])) === 0;
        if (!ok) {
          bad++;
          t.fail(`n ${n}, b1 ${b1}, b2 ${b2}, eps ${eps}, epsRoot ${epsRoot}, count ${count}`);
        }
        cases++;
      }
    }
  }
  t.equal(bad, 0, `${cases} cases identical`);
});

t.test('subnormal results stay subnormal (nothing flushed)', async (t) => {
  const w = new WasmAdam();
  const n = 9;
  const g = new Float32Array(n).fill(1e-45);
  const mu0 = new Float32Array(n).fill(2e-45);
  const nu0 = new Float32Array(n);
  const got = w.moments(g, mu0, nu0, adamConstants(0.5, 0.999, 1, 0, 1e-30));
  t.ok(got, 'ran');
  t.ok(
    got!.mu.every((v) => v > 0 && v < 1.1754943508222875e-38),
    'mu is subnormal and positive',
  );
  const want = [n, n, n].map((k) => new Float32Array(k));
  adamMomentsLoop(g, mu0, nu0, want[0], want[1], want[2], adamConstants(0.5, 0.999, 1, 0, 1e-30));
  t.same(bytes(got!.out), bytes(want[2]), 'update as the loop');
});

t.test('NaN and infinite gradients: the loop element for element', async (t) => {
  const w = new WasmAdam();
  const g = Float32Array.from([NaN, Infinity, -Infinity, 1, -1, 0, NaN]);
  const mu0 = Float32Array.from([0, 1, -1, Infinity, NaN, 0, -2]);
  const nu0 = Float32Array.from([0, 1, 1, 1, Infinity, Infinity, 3]);
  for (const c of [adamConstants(0.9, 0.999, 1, 1e-8, 0), adamConstants(0.9, 0.999, 50, 0, 1e-8)]) {
    const want = [7, 7, 7].map((k) => new Float32Array(k));
    adamMomentsLoop(g, mu0, nu0, want[0], want[1], want[2], c);
    const got = w.moments(g, mu0, nu0, c)!;
    for (const [k, a] of [got.mu, got.nu, got.out].entries())
      t.ok(
        a.every((v, i) => Object.is(v, want[k][i])),
        `array ${k}`,
      );
  }
});

t.test('memory reused across growing and shrinking lengths', async (t) => {
  const w = new WasmAdam();
  const c = adamConstants(0.9, 0.999, 5, 1e-8, 0);
  for (const n of [5, 300001, 3, 70000, 1]) {
    const g = gradients(n, 40 + n);
    const [mu0, nu0] = moments(n, 50 + n);
    const want = [n, n, n].map((k) => new Float32Array(k));
    adamMomentsLoop(g, mu0, nu0, want[0], want[1], want[2], c);
    const got = w.moments(g, mu0, nu0, c)!;
    t.equal(got.out.length, n);
    t.ok(
      Buffer.compare(bytes(got.mu), bytes(want[0])) === 0 &&
        Buffer.compare(bytes(got.nu), bytes(want[1])) === 0 &&
        Buffer.compare(bytes(got.out), bytes(want[2])) === 0,
      `n ${n}`,
    );
    // Fresh arrays, not views of wasm memory.
    t.not(got.mu.buffer, got.nu.buffer);
  }
});

t.test('scaleByAdam follows the loop over many steps (wasm-sized and small vectors)', async (t) => {
  // Bit for bit is this backend's promise: select it (the float32 one is the default in 'fast' mode).
  useKernelBackend('adamMoments', 'wasm');
  t.teardown(() => resetKernelBackend('adamMoments'));
  for (const n of [5, 1001]) {
    for (const [name, , , eps, epsRoot] of SETTINGS.slice(0, 3)) {
      const tx = scaleByAdam({ eps, epsRoot });
      let s = tx.init(new Float32Array(n));
      let mu = new Float32Array(n);
      let nu = new Float32Array(n);
      let ok = true;
      for (let step = 1; step <= 30; step++) {
        const g = gradients(n, 100 * step + n);
        const [u, s2] = tx.update(g, s);
        s = s2;
        const want = [n, n, n].map((k) => new Float32Array(k));
        adamMomentsLoop(g, mu, nu, want[0], want[1], want[2], adamConstants(0.9, 0.999, step, eps, epsRoot));
        [mu, nu] = [want[0], want[1]];
        ok &&=
          Buffer.compare(bytes(u), bytes(want[2])) === 0 &&
          Buffer.compare(bytes(s.mu), bytes(want[0])) === 0 &&
          Buffer.compare(bytes(s.nu), bytes(want[1])) === 0 &&
          s.count === step;
      }
      t.ok(ok, `n ${n}, ${name}: 30 steps identical`);
    }
  }
});

t.test('the self-check passes the kernel and rejects one off in one element', async (t) => {
  const w = new WasmAdam();
  t.ok(WasmAdam.supported(), 'the module validates on this engine');
  t.ok(
    adamSelfCheck((g, m, v, c) => w.moments(g, m, v, c)!, adamMomentsLoop),
    'the kernel passes',
  );
  t.notOk(
    adamSelfCheck((g, m, v, c) => {
      const r = w.moments(g, m, v, c)!;
      if (r.out.length > 5) r.out[5] = Math.fround(r.out[5] * (1 + 2 ** -22));
      return r;
    }, adamMomentsLoop),
    'one element off fails',
  );
});
