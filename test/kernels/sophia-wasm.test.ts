/**
 * The WebAssembly Sophia passes (src/kernels/wasm/sophia.ts) against references written here with
 * Math.fround, Math.sign, Math.min and Math.max on the float64 expressions (compared with Object.is on
 * every element, and the counts), on lengths around the SIMD step, the size threshold and the chunk
 * size; operands are views at odd byte offsets, in ArrayBuffers and SharedArrayBuffers, in place and
 * not; memory around the views and the inputs must not change.
 */
import t from 'tap';
import { emaIntoLoop, sophiaGClipLoop, sophiaHClipLoop } from '../../src/kernels/cpu/passes.js';
import { emaInto, sophiaGClipInto, sophiaHClipInto } from '../../src/kernels/passes.js';
import {
  FUSED_DEN_TIE,
  WasmSophia,
  sophiaSelfCheck,
  type SophiaKernel,
} from '../../src/kernels/wasm/sophia.js';
import { FUSED_TIE } from '../../src/kernels/wasm/vector-ops.js';
import { normals, uniforms } from '../helpers/random.js';
import { surroundingsIntact, view } from './view-check.js';

const LENGTHS = [0, 1, 3, 4, 5, 255, 256, 257, 1023, 16385, 269322];
const SPECIALS = [0, -0, 1e-45, -1e-45, 1.1e-38, -5e-40, 3.4e38, -3.4e38, Infinity, -Infinity, NaN, 1, -2];

function values(n: number, seed: number, span = 60): Float32Array {
  const z = normals(n, seed, 'sophia-z');
  const e = uniforms(n, -span, span, seed, 'sophia-e');
  const v = Float32Array.from(z, (x, i) => x * 2 ** e[i]);
  for (let i = seed % 5; i < n; i += 7) v[i] = SPECIALS[(i + seed) % SPECIALS.length];
  return v;
}

/** -1 when equal under Object.is (any NaN for any NaN), else the first differing index. */
function firstDifference(got: Float32Array, want: ArrayLike<number>): number {
  if (got.length !== want.length) return -2;
  for (let i = 0; i < got.length; i++) {
    const [g, w] = [got[i], want[i]];
    if (!Object.is(g, w) && !(Number.isNaN(g) && Number.isNaN(w))) return i;
  }
  return -1;
}

/** Independent references: the float64 expressions, each rounded once with Math.fround. */
const ref = {
  ema: (a: Float32Array, x: Float32Array, b: number, c: number) =>
    Float64Array.from(a, (v, i) => Math.fround(b * v + c * x[i])),
  clipG(m: Float32Array, h: Float32Array, scale: number, eps: number): [Float64Array, number] {
    let count = 0;
    const out = Float64Array.from(m, (v, i) => {
      const r = Math.abs(v) / (scale * h[i] + eps);
      count += r < 1 ? 1 : 0;
      return Math.fround(Math.sign(v) * Math.min(r, 1));
    });
    return [out, count];
  },
  clipH(
    m: Float32Array,
    h: Float32Array,
    bc1: number,
    g: number,
    eps: number,
    c: number,
  ): [Float64Array, number] {
    let count = 0;
    const out = Float64Array.from(m, (v, i) => {
      const u = v / bc1 / Math.max(g * h[i], eps);
      count += Math.abs(u) < c ? 1 : 0;
      return Math.fround(Math.min(Math.max(u, -c), c));
    });
    return [out, count];
  },
};

const w = new WasmSophia();
/** The kernel class directly (no size threshold) and the public functions. */
const FLAVOURS = [
  [
    'kernel',
    {
      emaInto: (o: Float32Array, a: Float32Array, x: Float32Array, b: number, c: number) =>
        void w.emaInto(o, a, x, b, c),
      sophiaGClipInto: (o: Float32Array, m: Float32Array, h: Float32Array, s: number, e: number) =>
        w.sophiaGClipInto(o, m, h, s, e),
      sophiaHClipInto: (
        o: Float32Array,
        m: Float32Array,
        h: Float32Array,
        ...c: [number, number, number, number]
      ) => w.sophiaHClipInto(o, m, h, ...c),
    },
  ],
  ['public', { emaInto, sophiaGClipInto, sophiaHClipInto }],
] as const;
const LAYOUTS: [number, boolean][] = [
  [0, false],
  [1, false],
  [3, true],
  [0, true],
];

/** Sophia-G edge cases: ±0 over negative, zero and NaN denominators, sign flips, ratio exactly 1, ties. */
const G_EDGES: [number, number][] = [
  [0, -5],
  [-0, -5],
  [0, -3e-20],
  [-0, -3e-20],
  [0, 0],
  [-0, -0],
  [0, NaN],
  [-2, -1],
  [3, -1e-30],
  [2, 1],
  [1 + 2 ** -23, 7],
  [NaN, 1],
  [Infinity, 1],
  [-Infinity, Infinity],
  [1e-45, 1e-45],
  [3.4e38, 1e-45],
];

function withEdges(m: Float32Array, h: Float32Array): void {
  G_EDGES.forEach(([mv, hv], k) => {
    for (const i of [k, m.length - 1 - k, 17 + 16 * k]) if (i >= 0 && i < m.length) [m[i], h[i]] = [mv, hv];
  });
}

t.test('the engine has the kernel and it passes its self-check', async (t) => {
  t.ok(WasmSophia.supported(), 'WebAssembly SIMD available');
  t.ok(sophiaSelfCheck(w), 'self-check passes');
});

t.test('emaInto: b·a + c·x in float64, unfused, rounded once; in place and not', async (t) => {
  let bad = 0;
  for (const [name, ops] of FLAVOURS) {
    for (const n of LENGTHS) {
      const [a, x] = [values(n, n + 1), values(n, n + 2)];
      for (const i of [0, 5, n - 1]) if (i >= 0 && i < n) [a[i], x[i]] = [1, 7];
      if (n > 9) [a[9], x[9]] = [7, 1];
      for (const [b, c] of [
        [0.965, 1 - 0.965],
        [0.99, 1 - 0.99],
        [1, FUSED_TIE],
        [FUSED_TIE, 1],
        [-0, 3e38],
      ]) {
        const want = ref.ema(a, x, b, c);
        for (const [at, shared] of LAYOUTS) {
          const out = view(new Float32Array(n).fill(5), at, shared);
          const [av, xv] = [view(a, at + 1, !shared), view(x, at + 2, shared)];
          ops.emaInto(out, av, xv, b, c);
          const ok =
            firstDifference(out, want) === -1 &&
            firstDifference(av, a) === -1 &&
            firstDifference(xv, x) === -1 &&
            [out, av, xv].every(surroundingsIntact);
          const inPlace = view(a, at, shared);
          ops.emaInto(inPlace, inPlace, xv, b, c);
          const okInPlace = firstDifference(inPlace, want) === -1 && surroundingsIntact(inPlace);
          if (!ok || !okInPlace) t.fail(`${name} n ${n} b ${b} at ${at}: ${ok} / ${okInPlace}`);
          bad += ok && okInPlace ? 0 : 1;
        }
      }
    }
  }
  t.equal(bad, 0, 'all identical');
  // The crafted tie itself: 1·1 + FUSED_TIE·7 rounds to 1 unfused, to 1 + 2^-23 fused.
  const out = new Float32Array(300);
  emaInto(out, new Float32Array(300).fill(1), new Float32Array(300).fill(7), 1, FUSED_TIE);
  t.ok(
    out.every((v) => v === 1),
    'unfused rounding on the crafted tie',
  );
});

t.test('sophiaGClipInto: sign(m)·min(|m|/(s·h + eps), 1) and the count of ratios below 1', async (t) => {
  let bad = 0;
  for (const [name, ops] of FLAVOURS) {
    for (const n of LENGTHS) {
      const [m, h] = [values(n, n + 3), values(n, n + 4)];
      withEdges(m, h);
      for (const [scale, eps] of [
        [0.04 * 1024, 1e-15],
        [0.04 * 1024 * 3.7, 1e-15],
        [1, 1],
        [FUSED_DEN_TIE, 1],
        [1e30, 0],
        [2.5, -1e-15],
      ]) {
        const [want, count] = ref.clipG(m, h, scale, eps);
        for (const [at, shared] of LAYOUTS) {
          const out = view(new Float32Array(n).fill(5), at, shared);
          const [mv, hv] = [view(m, at + 1, !shared), view(h, at + 2, shared)];
          const got = ops.sophiaGClipInto(out, mv, hv, scale, eps);
          const ok =
            got === count &&
            firstDifference(out, want) === -1 &&
            firstDifference(mv, m) === -1 &&
            firstDifference(hv, h) === -1 &&
            [out, mv, hv].every(surroundingsIntact);
          if (!ok) t.fail(`${name} n ${n} scale ${scale} at ${at}: count ${got}/${count}`);
          bad += ok ? 0 : 1;
        }
      }
    }
  }
  t.equal(bad, 0, 'all identical');
});

t.test('sophiaGClipInto: the signed zeros and exact ties, element by element', async (t) => {
  const n = 300;
  const [m, h] = [new Float32Array(n).fill(1), new Float32Array(n).fill(1)];
  m.set([0, -0, 0, -0, -2, 0, 2, 1 + 2 ** -23, NaN]);
  h.set([-5, -5, 0, NaN, -1, -1e-15 / 2.5, 1, 7, 1]);
  const out = new Float32Array(n);
  // +0/(negative) = −0 and Math.sign(+0)·−0 = −0; −2 over a negative denominator gives a positive step.
  sophiaGClipInto(out, m, h, 2.5, 1e-15);
  t.equal(firstDifference(out, ref.clipG(m, h, 2.5, 1e-15)[0]), -1, 'equals the reference');
  t.ok(Object.is(out[0], -0), '+0 over a negative denominator gives −0');
  t.ok(Object.is(out[1], 0), '−0 over a negative denominator gives +0');
  t.ok(Number.isNaN(out[3]), '−0 over NaN gives NaN');
  t.equal(out[4], Math.fround(-1 * Math.min(2 / (2.5 * -1 + 1e-15), 1)), 'a negative ratio is not clipped');
  const counted = sophiaGClipInto(out, m, h, 1, 1);
  t.equal(out[6], 1, 'ratio exactly 1 gives 1');
  t.equal(counted, sophiaGClipLoop(new Float32Array(n), m, h, 1, 1), 'count equals the loop');
  t.equal(
    sophiaGClipInto(out, m, h, FUSED_DEN_TIE, 1),
    ref.clipG(m, h, FUSED_DEN_TIE, 1)[1],
    'the fused tie',
  );
});

/** bc1, γ, eps, clip: the defaults early and late, eps 0 (max(−0, +0)), huge and tiny. */
const H_CONSTANTS: [number, number, number, number][] = [
  [1 - 0.965, 0.01, 1e-12, 1],
  [1 - 0.965 ** 50, 0.01, 1e-12, 1],
  [1, 1, 0, 0.5],
  [0.5, 2, 3, 1e-3],
  [1e-30, 1e30, 1e-45, 3e38],
];

t.test('sophiaHClipInto: clamp(m/bc1/max(γ·h, eps), ±clip) and the count of |u| below clip', async (t) => {
  let bad = 0;
  for (const [name, ops] of FLAVOURS) {
    for (const n of LENGTHS) {
      const [m, h] = [values(n, n + 5), values(n, n + 6)];
      withEdges(m, h);
      for (const c of H_CONSTANTS) {
        const [want, count] = ref.clipH(m, h, ...c);
        for (const [at, shared] of LAYOUTS) {
          const out = view(new Float32Array(n).fill(5), at, shared);
          const [mv, hv] = [view(m, at + 1, shared), view(h, at + 2, !shared)];
          const got = ops.sophiaHClipInto(out, mv, hv, ...c);
          const ok =
            got === count &&
            firstDifference(out, want) === -1 &&
            firstDifference(mv, m) === -1 &&
            firstDifference(hv, h) === -1 &&
            [out, mv, hv].every(surroundingsIntact);
          if (!ok) t.fail(`${name} n ${n} consts ${c} at ${at}: count ${got}/${count}`);
          bad += ok ? 0 : 1;
        }
      }
    }
  }
  t.equal(bad, 0, 'all identical');
  // Math.max(−0, +0) = +0: with eps = +0 and γ·h = −0 the divisor is +0, so u = m/+0 keeps m's sign.
  const [m, h] = [new Float32Array(300).fill(-3), new Float32Array(300).fill(-0)];
  const out = new Float32Array(300);
  t.equal(sophiaHClipInto(out, m, h, 1, 1, 0, 2), 0, 'infinite u is not counted');
  t.ok(
    out.every((v) => v === -2),
    '−3/max(−0, +0) = −Infinity, clamped to −2',
  );
});

t.test('the exported loops equal the references', async (t) => {
  const n = 1023;
  const [m, h] = [values(n, 11), values(n, 12)];
  withEdges(m, h);
  const out = new Float32Array(n);
  emaIntoLoop(out, m, h, 0.965, 1 - 0.965);
  t.equal(firstDifference(out, ref.ema(m, h, 0.965, 1 - 0.965)), -1, 'ema');
  const [g, cg] = ref.clipG(m, h, 40.96, 1e-15);
  t.equal(sophiaGClipLoop(out, m, h, 40.96, 1e-15), cg, 'G count');
  t.equal(firstDifference(out, g), -1, 'G values');
  const [hh, ch] = ref.clipH(m, h, 0.3, 0.01, 1e-12, 1);
  t.equal(sophiaHClipLoop(out, m, h, 0.3, 0.01, 1e-12, 1), ch, 'H count');
  t.equal(firstDifference(out, hh), -1, 'H values');
});

t.test('mismatched lengths throw RangeError', async (t) => {
  const [a, b] = [new Float32Array(300), new Float32Array(299)];
  t.throws(() => emaInto(a, a, b, 0.9, 0.1), RangeError);
  t.throws(() => sophiaGClipInto(a, b, a, 1, 1e-15), RangeError);
  t.throws(() => sophiaHClipInto(a, a, b, 1, 0.01, 1e-12, 1), RangeError);
});

t.test('partly overlapping views give the loop results', async (t) => {
  const base = values(1100, 9);
  for (const shift of [-1, 1, 4]) {
    const sub = (v: Float32Array, s: number) => v.subarray(50 + s, 1050 + s);
    const [want, got] = [base.slice(), base.slice()];
    emaIntoLoop(sub(want, shift), sub(want, 0), sub(want, 2), 0.9, 0.1);
    emaInto(sub(got, shift), sub(got, 0), sub(got, 2), 0.9, 0.1);
    t.equal(firstDifference(got, want), -1, `emaInto shift ${shift}`);
    const [want2, got2] = [base.slice(), base.slice()];
    const c = sophiaGClipLoop(sub(want2, shift), sub(want2, 0), sub(want2, 3), 2, 1e-15);
    t.equal(sophiaGClipInto(sub(got2, shift), sub(got2, 0), sub(got2, 3), 2, 1e-15), c);
    t.equal(firstDifference(got2, want2), -1, `sophiaGClipInto shift ${shift}`);
  }
});

t.test('the self-check rejects kernels that are off', async (t) => {
  const broken = (patch: Partial<SophiaKernel>): SophiaKernel => ({
    emaInto: (o, a, x, b, c) => w.emaInto(o, a, x, b, c),
    sophiaGClipInto: (o, m, h, s, e) => w.sophiaGClipInto(o, m, h, s, e),
    sophiaHClipInto: (o, m, h, b, g, e, c) => w.sophiaHClipInto(o, m, h, b, g, e, c),
    ...patch,
  });
  t.ok(sophiaSelfCheck(broken({})), 'the faithful wrapper passes');
  /** a·b + c with (nearly) one rounding: Dekker's exact product and a compensated sum, as a fused madd. */
  const fma = (a: number, b: number, c: number): number => {
    const split = (v: number) => {
      const s = 134217729 * v;
      const hi = s - (s - v);
      return [hi, v - hi];
    };
    const p = a * b;
    const [ah, al] = split(a);
    const [bh, bl] = split(b);
    const e = ah * bh - p + ah * bl + al * bh + al * bl;
    // p + c as a rounded sum and its exact error (TwoSum), then the product's error added last.
    const s = p + c;
    const err = Math.abs(p) >= Math.abs(c) ? p - s + c : c - s + p;
    return s + (err + e);
  };
  t.notOk(
    sophiaSelfCheck(
      broken({
        emaInto: (o, a, x, b, c) => {
          for (let i = 0; i < o.length; i++) o[i] = fma(c, x[i], b * a[i]);
          return true;
        },
      }),
    ),
    'a fused multiply-add in the EMA',
  );
  t.notOk(
    sophiaSelfCheck(
      broken({
        sophiaGClipInto: (o, m, h, s, e) => {
          let n = 0;
          for (let i = 0; i < o.length; i++) {
            const r = Math.abs(m[i]) / fma(s, h[i], e);
            n += r < 1 ? 1 : 0;
            o[i] = Math.sign(m[i]) * Math.min(r, 1);
          }
          return n;
        },
      }),
    ),
    'a fused multiply-add in the denominator',
  );
  const copysign = (r: number, m: number) => (m < 0 || Object.is(m, -0) ? -Math.abs(r) : Math.abs(r));
  t.notOk(
    sophiaSelfCheck(
      broken({
        sophiaGClipInto: (o, m, h, s, e) => {
          const n = w.sophiaGClipInto(o, m, h, s, e);
          for (let i = 0; i < o.length; i++) {
            const r = Math.min(Math.abs(m[i]) / (s * h[i] + e), 1);
            o[i] = Number.isNaN(m[i]) || Number.isNaN(r) ? NaN : copysign(r, m[i]);
          }
          return n;
        },
      }),
    ),
    'copysign(min(ratio, 1), m) instead of sign(m)·min',
  );
  t.notOk(
    sophiaSelfCheck(
      broken({
        sophiaGClipInto: (o, m, h, s, e) => {
          const n = w.sophiaGClipInto(o, m, h, s, e);
          return n === undefined ? n : n + (o.length === 37 ? 1 : 0);
        },
      }),
    ),
    'a count off by one',
  );
  t.notOk(
    sophiaSelfCheck(
      broken({
        sophiaHClipInto: (o, m, h, b, g, e, c) => {
          let n = 0;
          for (let i = 0; i < o.length; i++) {
            const d = g * h[i];
            const u = m[i] / b / (d > e ? d : e); // NaN γ·h gives eps, −0 vs +0 not ordered
            n += Math.abs(u) < c ? 1 : 0;
            o[i] = Math.min(Math.max(u, -c), c);
          }
          return n;
        },
      }),
    ),
    'a max that drops NaN',
  );
});
