/**
 * The float32 Adam moments ('adamMoments' backend 'wasm-f32', src/kernels/wasm-f32/adam.ts) against
 * Adam's float64 math computed here: the bounds its header states (m within 3·2^-24 of
 * b1|m0| + (1−b1)|g|, v within 4·2^-24 relative, u within 12·2^-24 of |u| plus m's error carried
 * through) over lengths with every tail (0, 1, the loop's threshold, 4k + 1..3), gradients over 2^±20,
 * early and late steps, eps 0 and eps_root > 0; NaN and ±Inf as the CPU reference gives them; −0 kept;
 * the same bits on a second run; results in the caller's arrays; the self-check rejecting a kernel
 * off by a few ulps; preferred in the default mode and absent under HESSFLOW_KERNELS=exact.
 */
import t from 'tap';
import { adamConstants, adamMomentsLoop } from '../../src/kernels/cpu/passes.js';
import { activeKernelBackend, kernelFor } from '../../src/kernels/index.js';
import type { AdamConstants } from '../../src/kernels/registry.js';
import { F32Adam, MIN_F32_ADAM, f32AdamSelfCheck } from '../../src/kernels/wasm-f32/adam.js';
import { F32_BACKEND } from '../../src/kernels/wasm-f32/index.js';
import { wasmSimdSupported } from '../../src/kernels/wasm/matmul.js';
import { backendsUnderMode } from '../helpers/kernel-mode.js';
import { normals, uniforms } from '../helpers/random.js';

const U = 2 ** -24;
const TINY = 2 ** -126;

/** Values v·2^e, v normal, e uniform in ±span: magnitudes across 2^±span with both signs. */
function spread(n: number, span: number, seed: number, name: string): Float32Array {
  const z = normals(n, seed, `${name}-z`);
  const e = uniforms(n, -span, span, seed, `${name}-e`);
  return Float32Array.from(z, (v, i) => v * 2 ** e[i]);
}

interface Worst {
  mu: number;
  nu: number;
  out: number;
}

/** The worst errors, in units of 2^-24 of the header's scales, of `got` against float64 Adam. */
function errors(
  g: Float32Array,
  mu0: Float32Array,
  nu0: Float32Array,
  c: AdamConstants,
  got: { mu: Float32Array; nu: Float32Array; out: Float32Array },
): Worst {
  const w = { mu: 0, nu: 0, out: 0 };
  const worse = (key: keyof Worst, e: number): void => {
    if (!(e <= w[key])) w[key] = Number.isNaN(e) ? Infinity : e;
  };
  for (let i = 0; i < g.length; i++) {
    const m = c.b1 * mu0[i] + (1 - c.b1) * g[i];
    const v = c.b2 * nu0[i] + (1 - c.b2) * g[i] * g[i];
    const d = Math.sqrt(v / c.bc2 + c.epsRoot) + c.eps;
    const u = m / c.bc1 / d;
    const mScale = c.b1 * Math.abs(mu0[i]) + (1 - c.b1) * Math.abs(g[i]) + TINY;
    worse('mu', Math.abs(got.mu[i] - m) / mScale / U);
    worse('nu', Math.abs(got.nu[i] - v) / (v + TINY) / U);
    worse('out', Math.abs(got.out[i] - u) / (Math.abs(u) + mScale / c.bc1 / d + TINY) / U);
  }
  return w;
}

const BOUND: Worst = { mu: 3, nu: 4, out: 12 };
const SETTINGS: [string, number, number, number, number][] = [
  ['defaults', 0.9, 0.999, 1e-8, 0],
  ['eps 0', 0.9, 0.999, 0, 0],
  ['eps_root > 0', 0.9, 0.99, 1e-8, 1e-10],
  ['b1 0.8, b2 0.95', 0.8, 0.95, 1e-8, 0],
];
const COUNTS = [1, 2, 10, 1000, 1e6];

t.test(
  'within the stated bounds of float64 Adam, every tail length',
  { skip: !wasmSimdSupported() },
  async (t) => {
    const k = new F32Adam().kernel;
    const worst: Worst = { mu: 0, nu: 0, out: 0 };
    let elements = 0;
    const lengths = [0, 1, 3, MIN_F32_ADAM - 1, MIN_F32_ADAM, 65, 66, 67, 68, 1001, 50003];
    for (const n of lengths) {
      const g = spread(n, 20, n + 1, 'g');
      const mu0 = spread(n, 20, n + 2, 'mu');
      const nu0 = Float32Array.from(spread(n, 20, n + 3, 'nu'), Math.abs);
      for (const [, b1, b2, eps, epsRoot] of SETTINGS)
        for (const count of COUNTS) {
          const c = adamConstants(b1, b2, count, eps, epsRoot);
          const got = k(g, mu0, nu0, c);
          t.equal(got.mu.length + got.nu.length + got.out.length, 3 * n);
          const e = errors(g, mu0, nu0, c, got);
          for (const key of ['mu', 'nu', 'out'] as const) worst[key] = Math.max(worst[key], e[key]);
          elements += n;
        }
    }
    t.ok(
      worst.mu <= BOUND.mu,
      `m: worst ${worst.mu.toFixed(2)} ≤ ${BOUND.mu} (units of 2^-24 of the summands)`,
    );
    t.ok(worst.nu <= BOUND.nu, `v: worst ${worst.nu.toFixed(2)} ≤ ${BOUND.nu} (relative, units of 2^-24)`);
    t.ok(worst.out <= BOUND.out, `u: worst ${worst.out.toFixed(2)} ≤ ${BOUND.out} (units of 2^-24)`);
    t.ok(elements > 1e6, `${elements} elements compared`);
    // Float32 arithmetic, not a copy of the float64 reference: somewhere it differs from the loop.
    const n = 4099;
    const [g, mu0, nu0] = [
      spread(n, 5, 1, 'g'),
      spread(n, 5, 2, 'mu'),
      Float32Array.from(spread(n, 5, 3, 'nu'), Math.abs),
    ];
    const c = adamConstants(0.9, 0.999, 7, 1e-8, 0);
    const want = [n, n, n].map((m) => new Float32Array(m));
    adamMomentsLoop(g, mu0, nu0, want[0], want[1], want[2], c);
    const got = k(g, mu0, nu0, c);
    t.ok(
      got.out.some((u, i) => u !== want[2][i]),
      'some update differs from the float64 loop (float32 arithmetic is in use)',
    );
  },
);

t.test(
  'special values: NaN, ±Inf, zeros of both signs, subnormals',
  { skip: !wasmSimdSupported() },
  async (t) => {
    const k = new F32Adam().kernel;
    const n = MIN_F32_ADAM + 3;
    const g = new Float32Array(n).fill(0.5);
    const mu0 = new Float32Array(n).fill(0.25);
    const nu0 = new Float32Array(n).fill(0.125);
    // Specials, several in the last partial group of four.
    g.set([NaN, Infinity, -Infinity, -0, 1e-45], 0);
    mu0.set([-0], 3);
    nu0.set([0], 3);
    g.set([NaN, Infinity], n - 2);
    mu0[10] = NaN;
    nu0[11] = NaN;
    nu0[12] = Infinity;
    const c = adamConstants(0.9, 0.999, 3, 1e-8, 0);
    const got = k(g, mu0, nu0, c);
    const want = [n, n, n].map((m) => new Float32Array(m));
    adamMomentsLoop(g, mu0, nu0, want[0], want[1], want[2], c);
    const same = (a: number, b: number): boolean => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
    for (const i of [0, 1, 2, 3, 10, 11, 12, n - 2, n - 1]) {
      const line = `g ${g[i]}, m0 ${mu0[i]}, v0 ${nu0[i]}`;
      const nonFinite = (x: number): boolean => !Number.isFinite(x) || Object.is(x, -0);
      for (const [key, j] of [
        ['mu', 0],
        ['nu', 1],
        ['out', 2],
      ] as const) {
        const w = want[j][i];
        if (nonFinite(w))
          t.ok(same(got[key][i], w), `${line}: ${key} ${got[key][i]} is the reference's ${w}`);
      }
    }
    t.ok(
      Number.isNaN(got.out[1]) && got.mu[1] === Infinity && got.nu[1] === Infinity,
      '+Inf: m = v = Inf, u = NaN',
    );
    t.ok(Object.is(got.mu[3], -0) && Object.is(got.out[3], -0), '−0 gradient on −0 state: m and u are −0');
    t.ok(got.mu[4] > 0 && got.out[4] > 0, 'a subnormal gradient is not flushed to zero');
    // eps 0 on a zero state: 0/0, as the reference.
    const z = new Float32Array(n);
    const c0 = adamConstants(0.9, 0.999, 1, 0, 0);
    const zeros = k(z, z, z, c0);
    t.ok(zeros.out.every(Number.isNaN), 'eps 0 and an all-zero state: u = 0/0 = NaN, as the reference');
  },
);

t.test(
  "deterministic, in the caller's arrays, inputs unchanged",
  { skip: !wasmSimdSupported() },
  async (t) => {
    const k = new F32Adam().kernel;
    const n = 10007;
    const [g, mu0, nu0] = [
      spread(n, 8, 4, 'g'),
      spread(n, 8, 5, 'mu'),
      Float32Array.from(spread(n, 8, 6, 'nu'), Math.abs),
    ];
    const copies = [g.slice(), mu0.slice(), nu0.slice()];
    const c = adamConstants(0.9, 0.999, 4, 1e-8, 0);
    const given: Float32Array[] = [];
    const a = k(g, mu0, nu0, c, (m) => {
      const arr = new Float32Array(m).fill(NaN);
      given.push(arr);
      return arr;
    });
    t.same(given.length, 3, 'three arrays taken from allocate');
    t.ok(a.mu === given[0] && a.nu === given[1] && a.out === given[2], 'results are the allocated arrays');
    const b = k(g, mu0, nu0, c);
    const bits = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length);
    for (const key of ['mu', 'nu', 'out'] as const)
      t.same(bits(a[key]), bits(b[key]), `${key}: same bits twice`);
    t.same([g, mu0, nu0], copies, 'inputs unchanged');
    // In place: mu and nu written over mu0 and nu0 (the arrays a pool hands back).
    const mu = mu0.slice();
    const nu = nu0.slice();
    const order = [mu, nu, new Float32Array(n)];
    const inPlace = k(g, mu, nu, c, () => order.shift()!);
    t.same(bits(inPlace.mu), bits(a.mu), 'in place over mu0: same m');
    t.same(bits(inPlace.out), bits(a.out), 'in place over nu0: same u');
  },
);

t.test(
  'the self-check passes the kernel and rejects one a few ulps off',
  { skip: !wasmSimdSupported() },
  async (t) => {
    const k = new F32Adam().kernel;
    t.ok(f32AdamSelfCheck(k), 'the kernel passes');
    const off = (key: 'mu' | 'nu' | 'out', ulps: number) =>
      ((g, mu0, nu0, c, allocate) => {
        const r = k(g, mu0, nu0, c, allocate);
        const i = r[key].length >> 1;
        r[key][i] *= 1 + ulps * U;
        return r;
      }) as typeof k;
    t.notOk(f32AdamSelfCheck(off('mu', 40)), 'm off by 40 ulps: rejected');
    t.notOk(f32AdamSelfCheck(off('nu', 40)), 'v off by 40 ulps: rejected');
    t.notOk(f32AdamSelfCheck(off('out', 40)), 'u off by 40 ulps: rejected');
    t.notOk(
      f32AdamSelfCheck((g, mu0, nu0, c) => {
        const r = k(g, mu0, nu0, c);
        r.out[r.out.length - 1] = 0; // the tail's last element (an Inf gradient: want NaN)
        return r;
      }),
      'a wrong tail element: rejected',
    );
  },
);

t.test(
  'preferred by default; HESSFLOW_KERNELS=exact leaves it unregistered',
  { skip: !wasmSimdSupported() },
  async (t) => {
    t.equal(activeKernelBackend('adamMoments'), F32_BACKEND, 'the default backend');
    t.ok(kernelFor('adamMoments', 'wasm'), 'the exact backend stays registered');
    t.same(
      backendsUnderMode('adamMoments', 'exact'),
      { backends: ['cpu', 'wasm'], active: 'wasm' },
      'exact mode: cpu and wasm only',
    );
  },
);
